#!/usr/bin/env bash
# For PragmaticCode-Java (building the dataset or evaluating on it): Debian's
# source packages and Java 17 for the compile check. Needs root and apt.
# Adds a deb-src entry for this machine's own suite, refreshes the package
# lists, and installs openjdk-17-jdk-headless if `javac` is missing, and
# Debian's commons-lang3 and commons-io jars if its maven-repo lacks them.
set -euo pipefail
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup-debian-sources: needs root and apt-get (Debian); skipped" >&2
    exit 0
fi
. /etc/os-release
SUITE="${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}"
LIST=/etc/apt/sources.list.d/mgd-deb-src.sources
if ! grep -rqs "^Types: deb-src" /etc/apt/sources.list.d/ && ! grep -qs "^deb-src" /etc/apt/sources.list; then
    cat > "$LIST" <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi
apt-get update -qq
command -v javac >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless
command -v dpkg-source >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev
# tests/test_project_model.py resolves these two from /usr/share/maven-repo (Maven's own packages pull both in)
{ [ -d /usr/share/maven-repo/org/apache/commons/commons-lang3/debian ] && [ -d /usr/share/maven-repo/commons-io/commons-io/debian ]; } \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libcommons-lang3-java libcommons-io-java
