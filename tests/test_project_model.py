"""The project model read from real build files, with the real JDT.LS, the real ECJ check and real jedi.

Maven and Gradle projects written for the test (two modules, a type of one
used from the other, a dependency that Debian's /usr/share/maven-repo holds
at another version, a made-up one that no store holds); a Python project with
a src layout. Artifact stores are private folders plus the machine's Debian
repository, so what the user's ~/.m2 holds does not change the results.
"""

from __future__ import annotations

import logging
import os
import pathlib
import re
import shutil
import textwrap

import pytest

from mgd.lsp.artifacts import DEBIAN_REPOSITORY, ArtifactStores, find_jar
from mgd.lsp.project import normalize_java_level, read_project, supported_java_level

LANG3 = pathlib.Path(DEBIAN_REPOSITORY, "org/apache/commons/commons-lang3")
COMMONS_IO = pathlib.Path(DEBIAN_REPOSITORY, "commons-io/commons-io")
needs_debian_jars = pytest.mark.skipif(
    not (LANG3 / "debian").is_dir() or not (COMMONS_IO / "debian").is_dir(),
    reason="Debian's maven-repo has no commons-lang3 / commons-io (bash scripts/setup-debian-sources.sh)",
)
pytestmark = needs_debian_jars

LANG3_ASKED = "3.9"  # not the version Debian packages (bookworm: 3.12.0)
GHOST = "org.example.nowhere:ghost-lib:1.0"


def write(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def debian_version(folder: pathlib.Path) -> str:
    """The real version Debian keeps beside `debian` (the folder whose jar is the same file)."""
    real = os.path.realpath(next((folder / "debian").glob("*.jar")))
    for sub in sorted(folder.iterdir()):
        jar = sub / f"{folder.name}-{sub.name}.jar"
        if sub.name != "debian" and jar.is_file() and os.path.realpath(jar) == real:
            return sub.name
    raise AssertionError(f"no versioned jar beside {folder}/debian")


POM_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">\n'

INVENTORY = """
package org.shop.core;

public class Inventory {
    private int units;
    public int countUnits() { return units; }
    public Inventory restockAll(int more) { units += more; return this; }
}
"""

TILL = """
package org.shop.app;

import org.apache.commons.lang3.StringUtils;
import org.shop.core.Inventory;

public class Till {
    public String label(Inventory inventory, String name) {
        int n = inventory.countUnits();
        return StringUtils.capitalize(name) + n;
    }
}
"""


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> ArtifactStores:
    """Empty private Maven and Gradle stores, and the machine's Debian repository."""
    home = tmp_path_factory.mktemp("stores")
    (home / "m2").mkdir()
    (home / "gradle").mkdir()
    return ArtifactStores(str(home / "m2"), str(home / "gradle"), DEBIAN_REPOSITORY)


@pytest.fixture(scope="module")
def maven_shop(tmp_path_factory) -> pathlib.Path:
    """A parent pom with modules `core` and `app`; `app` uses `core`'s Inventory and commons-lang3."""
    root = tmp_path_factory.mktemp("maven") / "shop"
    return write(root, {
        "pom.xml": POM_HEAD + f"""
            <modelVersion>4.0.0</modelVersion>
            <groupId>org.shop</groupId><artifactId>shop-parent</artifactId><version>1.2</version>
            <packaging>pom</packaging>
            <modules><module>core</module><module>app</module></modules>
            <properties>
              <maven.compiler.release>17</maven.compiler.release>
              <lang3.version>{LANG3_ASKED}</lang3.version>
            </properties>
            <dependencyManagement><dependencies>
              <dependency><groupId>org.apache.commons</groupId><artifactId>commons-lang3</artifactId>
                <version>${{lang3.version}}</version></dependency>
            </dependencies></dependencyManagement>
            </project>
            """,
        "core/pom.xml": POM_HEAD + """
            <parent><groupId>org.shop</groupId><artifactId>shop-parent</artifactId><version>1.2</version></parent>
            <artifactId>shop-core</artifactId>
            <dependencies>
              <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13.2</version>
                <scope>test</scope></dependency>
            </dependencies>
            </project>
            """,
        "app/pom.xml": POM_HEAD + f"""
            <parent><groupId>org.shop</groupId><artifactId>shop-parent</artifactId><version>1.2</version></parent>
            <artifactId>shop-app</artifactId>
            <build><sourceDirectory>src/java</sourceDirectory></build>
            <dependencies>
              <dependency><groupId>${{project.groupId}}</groupId><artifactId>shop-core</artifactId>
                <version>${{project.version}}</version></dependency>
              <dependency><groupId>org.apache.commons</groupId><artifactId>commons-lang3</artifactId></dependency>
              <dependency><groupId>{GHOST.split(":")[0]}</groupId><artifactId>{GHOST.split(":")[1]}</artifactId>
                <version>{GHOST.split(":")[2]}</version></dependency>
            </dependencies>
            </project>
            """,
        "core/src/main/java/org/shop/core/Inventory.java": INVENTORY,
        "core/src/test/java/org/shop/core/InventoryTest.java": "package org.shop.core;\nclass InventoryTest {}\n",
        "app/src/java/org/shop/app/Till.java": TILL,
        # a folder that would be a source folder without a build file; the pom says otherwise
        "src/Stray.java": "public class Stray {}\n",
    })  # fmt: skip


@pytest.fixture(scope="module")
def maven_model(maven_shop, stores):
    return read_project(maven_shop, "java", stores=stores)


def test_maven_modules_roots_level_and_dependencies(maven_shop, maven_model):
    model = maven_model
    assert model.build_system == "maven" and model.root == str(maven_shop.resolve())
    assert model.build_files == tuple(str(maven_shop / p) for p in ("pom.xml", "core/pom.xml", "app/pom.xml"))
    assert model.source_roots == (str(maven_shop / "core/src/main/java"), str(maven_shop / "app/src/java"))
    assert model.test_roots == (str(maven_shop / "core/src/test/java"),)
    assert model.java_level == "17"
    assert [m.name for m in model.modules] == ["org.shop:shop-parent", "org.shop:shop-core", "org.shop:shop-app"]
    assert model.modules[2].depends_on == ("org.shop:shop-core",)  # a module, not a jar
    # the version comes from the parent's dependencyManagement; test scope and the sibling module are left out
    assert model.dependencies == (f"org.apache.commons:commons-lang3:{LANG3_ASKED}", GHOST)
    assert model.classpath == (str(LANG3 / "debian" / "commons-lang3-debian.jar"),)
    assert model.version_differs == {f"org.apache.commons:commons-lang3:{LANG3_ASKED}": debian_version(LANG3)}
    assert model.unresolved == (GHOST,)
    options = model.session_options()
    assert options == {
        "source_paths": [*model.source_roots, *model.test_roots],
        "classpath": list(model.classpath),
        "java_level": "17",
    }


def test_relative_and_absolute_roots_give_the_same_model(maven_shop, maven_model, stores, monkeypatch):
    monkeypatch.chdir(maven_shop.parent)
    assert read_project("shop", "java", stores=stores) == maven_model
    monkeypatch.chdir(maven_shop / "core")
    assert read_project("..", "java", stores=stores) == maven_model


def test_the_exact_version_in_the_users_repository_comes_first(maven_shop, tmp_path, monkeypatch):
    """With HOME's ~/.m2 holding commons-lang3 at the asked version, that jar is used, not Debian's."""
    folder = tmp_path / ".m2/repository/org/apache/commons/commons-lang3" / LANG3_ASKED
    folder.mkdir(parents=True)
    jar = folder / f"commons-lang3-{LANG3_ASKED}.jar"
    shutil.copyfile(LANG3 / "debian" / "commons-lang3-debian.jar", jar)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GRADLE_USER_HOME", str(tmp_path / "no-gradle"))
    model = read_project(maven_shop, "java")
    assert model.classpath == (str(jar),) and model.version_differs == {}
    assert model.unresolved == (GHOST,)


def test_parent_properties_plugin_level_and_release_over_source(tmp_path, stores):
    """The compiler plugin's `<release>` wins over `<source>` and over the properties; `${...}` from the parent."""
    root = write(tmp_path / "lib", {
        "pom.xml": POM_HEAD + """
            <groupId>x</groupId><artifactId>parent</artifactId><version>1</version><packaging>pom</packaging>
            <modules><module>one</module></modules>
            <properties><jdk>11</jdk><maven.compiler.source>1.8</maven.compiler.source></properties>
            <build><pluginManagement><plugins><plugin><artifactId>maven-compiler-plugin</artifactId>
              <configuration><source>1.8</source><release>${jdk}</release></configuration>
            </plugin></plugins></pluginManagement></build>
            </project>
            """,
        "one/pom.xml": POM_HEAD + """
            <parent><groupId>x</groupId><artifactId>parent</artifactId><version>1</version></parent>
            <artifactId>one</artifactId>
            <dependencies><dependency><groupId>commons-io</groupId><artifactId>commons-io</artifactId>
              <version>2.4</version></dependency></dependencies>
            </project>
            """,
        "one/src/main/java/x/One.java": "package x;\npublic class One {}\n",
    })  # fmt: skip
    model = read_project(root, "java", stores=stores)
    assert model.java_level == "11"
    assert model.source_roots == (str(root / "one/src/main/java"),) and model.test_roots == ()
    assert model.classpath == (str(COMMONS_IO / "debian" / "commons-io-debian.jar"),)
    assert model.version_differs == {"commons-io:commons-io:2.4": debian_version(COMMONS_IO)}


GRADLE_SETTINGS = """
rootProject.name = 'garden'
include 'lib', ':tools:cli'
"""


@pytest.fixture(scope="module")
def gradle_garden(tmp_path_factory) -> pathlib.Path:
    """Projects `lib` and `tools:cli`; `cli` uses `lib`'s Plot and commons-io (`implementation`)."""
    root = tmp_path_factory.mktemp("gradle") / "garden"
    return write(root, {
        "settings.gradle": GRADLE_SETTINGS,
        "gradle.properties": "ioVersion=2.6\n",
        "build.gradle": "subprojects {\n    apply plugin: 'java'\n}\n",
        "lib/build.gradle": """
            plugins { id 'java-library' }
            sourceCompatibility = 1.8
            dependencies {
                // implementation 'commented:out:1.0'
                testImplementation 'junit:junit:4.13.2'
            }
            """,
        "tools/cli/build.gradle.kts": f"""
            java {{
                sourceCompatibility = JavaVersion.VERSION_11
            }}
            dependencies {{
                implementation(project(":lib"))
                implementation("commons-io:commons-io:${{property("ioVersion")}}")
                runtimeOnly("{GHOST}")
            }}
            """,
        "lib/src/main/java/garden/Plot.java": "package garden;\npublic class Plot {\n    public int rows() { return 3; }\n}\n",
        "tools/cli/src/main/java/garden/cli/Main.java": """
            package garden.cli;

            import garden.Plot;
            import org.apache.commons.io.FilenameUtils;

            public class Main {
                public static String run(Plot plot) {
                    return FilenameUtils.getExtension("a.txt") + plot.rows();
                }
            }
            """,
    })  # fmt: skip


def test_gradle_projects_roots_level_and_dependencies(gradle_garden, stores):
    model = read_project(gradle_garden, "java", stores=stores)
    assert model.build_system == "gradle"
    assert model.source_roots == (str(gradle_garden / "lib/src/main/java"), str(gradle_garden / "tools/cli/src/main/java"))
    assert [m.name for m in model.modules] == [":", ":lib", ":tools", ":tools:cli"]
    assert [m.java_level for m in model.modules] == [None, "1.8", None, "11"]
    assert model.java_level == "11"  # the newest of the projects' levels
    assert model.modules[3].depends_on == (":lib",)
    assert model.dependencies == ("commons-io:commons-io:2.6", GHOST)  # tests and comments left out
    assert model.classpath == (str(COMMONS_IO / "debian" / "commons-io-debian.jar"),)
    assert model.version_differs == {"commons-io:commons-io:2.6": debian_version(COMMONS_IO)}
    assert model.unresolved == (GHOST,)


def test_gradle_cache_sourcesets_toolchain_and_catalog(tmp_path, stores):
    """A jar in Gradle's cache layout is found there; `srcDirs`, the toolchain and `libs.x` are read."""
    gradle = tmp_path / "gradle-home"
    cached = gradle / "commons-io/commons-io/2.6/0123abcd"
    cached.mkdir(parents=True)
    shutil.copyfile(COMMONS_IO / "debian" / "commons-io-debian.jar", cached / "commons-io-2.6.jar")
    root = write(tmp_path / "app", {
        "settings.gradle.kts": 'include("core")\nproject(":core").projectDir = file("modules/core-impl")\n',
        "gradle/libs.versions.toml": """
            [versions]
            io = "2.6"
            [libraries]
            commons-io = { module = "commons-io:commons-io", version.ref = "io" }
            """,
        "modules/core-impl/build.gradle.kts": """
            java { toolchain { languageVersion.set(JavaLanguageVersion.of(21)) } }
            sourceSets { main { java { setSrcDirs(listOf("src")) } } }
            dependencies { api(libs.commons.io) }
            """,
        "modules/core-impl/src/core/Core.java": "package core;\npublic class Core {}\n",
        "modules/core-impl/src/main/java/Ignored.java": "public class Ignored {}\n",
    })  # fmt: skip
    model = read_project(root, "java", stores=ArtifactStores(stores.maven_local, str(gradle), stores.debian))
    assert model.source_roots == (str(root / "modules/core-impl/src"),)
    assert model.java_level == "21"
    assert model.classpath == (str(cached / "commons-io-2.6.jar"),) and model.version_differs == {}
    assert model.dependencies == ("commons-io:commons-io:2.6",) and model.unresolved == ()


def test_gradle_convention_plugins_and_strings_that_look_like_configurations(tmp_path, stores):
    """A buildSrc script plugin's level counts for the projects applying it; `api` inside a string is no dependency."""
    root = write(tmp_path / "conv", {
        "settings.gradle.kts": 'include("core-api")\ninclude("app")\n',
        "buildSrc/src/main/kotlin/shop.java-conventions.gradle.kts": """
            plugins { `java-library` }
            java { toolchain { languageVersion = JavaLanguageVersion.of(21) } }
            tasks.named<JavaCompile>("compileJava") { options.release = 17 }
            """,
        "app/build.gradle.kts": """
            plugins { id("shop.java-conventions") }
            dependencies {
                api(project(":core-api"))
                implementation(group = "commons-io", name = "commons-io", version = "2.6")
            }
            """,
        "core-api/build.gradle": "plugins { id 'java' }\nsourceCompatibility = '1.8'\n",
        "app/src/main/java/A.java": "class A {}\n", "core-api/src/main/java/B.java": "class B {}\n",
    })  # fmt: skip
    model = read_project(root, "java", stores=stores)
    assert {m.name: m.java_level for m in model.modules} == {":": None, ":core-api": "1.8", ":app": "17"}
    assert str(root / "buildSrc/src/main/kotlin/shop.java-conventions.gradle.kts") in model.build_files
    assert model.modules[2].depends_on == (":core-api",)
    assert model.dependencies == ("commons-io:commons-io:2.6",)
    assert not [note for note in model.notes if "not read" in note]


def test_a_spring_boot_parent_not_found_offline(tmp_path, stores):
    """The level comes from `java.version` as the Boot parent would set it; what is missing is noted."""
    root = write(tmp_path / "boot", {
        "pom.xml": POM_HEAD + """
            <parent><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-parent</artifactId>
              <version>2.7.5</version><relativePath/></parent>
            <artifactId>boot</artifactId>
            <properties><java.version>11</java.version></properties>
            <dependencies>
              <dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-web</artifactId>
              </dependency>
            </dependencies>
            </project>
            """,
        "src/main/java/b/B.java": "package b;\nclass B {}\n",
    })  # fmt: skip
    model = read_project(root, "java", stores=stores)
    assert model.java_level == "11"
    assert model.unresolved == ("org.springframework.boot:spring-boot-starter-web",)  # no version without the parent
    assert any("spring-boot-starter-parent:2.7.5 not found offline" in note for note in model.notes)


def test_no_build_file_keeps_the_default_source_folders(tmp_path, stores):
    root = write(tmp_path / "plain", {"src/main/java/a/A.java": "package a;\nclass A {}\n",
                                      "src/test/java/a/ATest.java": "package a;\nclass ATest {}\n"})  # fmt: skip
    model = read_project(root, "java", stores=stores)
    assert model.build_system == "none" and model.java_level is None
    assert model.source_roots == (str(root / "src/main/java"),) and model.test_roots == (str(root / "src/test/java"),)
    assert model.session_options()["source_paths"] == [str(root / "src/main/java"), str(root / "src/test/java")]
    bare = write(tmp_path / "bare", {"A.java": "class A {}\n"})
    assert read_project(bare, "java", stores=stores).source_roots == (str(bare),)


def test_java_levels():
    assert [normalize_java_level(v) for v in ("8", "1.8", "17", "17.0", "'11'", "1_8", "x", None)] == [
        "1.8", "1.8", "17", "17", "11", "1.8", None, None]  # fmt: skip
    assert [supported_java_level(v) for v in ("1.5", "1.8", "11", None)] == ["1.8", "1.8", "11", None]


def test_an_artifact_no_store_holds_is_not_found(stores):
    assert find_jar(stores, "org.example.nowhere", "ghost-lib", "1.0") is None
    found = find_jar(stores, "org.apache.commons", "commons-lang3", None)  # no version: Debian's
    assert found is not None and found.store == "debian" and found.version == debian_version(LANG3)


# -- the real compile check ------------------------------------------------------------------------------


def test_the_unchanged_files_compile_against_the_model(maven_shop, maven_model, gradle_garden, stores):
    """ECJ finds no error in the original files that import the other module and the dependency."""
    from mgd.pragmaticcode.java.check import compile_errors
    from mgd.pragmaticcode.java.project import JavaProjectBuild, JavaSpec

    maven = JavaProjectBuild.from_model(JavaSpec("shop", "1.2"), maven_model)
    assert maven.source_level == "17" and maven.classpath == [pathlib.Path(p) for p in maven_model.classpath]
    till = "app/src/java/org/shop/app/Till.java"
    broken = (maven_shop / till).read_text().replace("countUnits()", "countAll()")
    clean, wrong = compile_errors(maven, till, [(maven_shop / till).read_text(), broken])
    assert clean == {}, clean
    assert [kind for kind, _message in wrong] == ["UndefinedMethod"]  # the check does judge the file

    gradle = JavaProjectBuild.from_model(JavaSpec("garden", "0"), read_project(gradle_garden, "java", stores=stores))
    main = "tools/cli/src/main/java/garden/cli/Main.java"
    assert compile_errors(gradle, main, [(gradle_garden / main).read_text()]) == [{}]


def test_each_part_of_the_model_is_needed_to_compile(maven_shop, maven_model):
    """Without the other module's folder, or without the jar, the same original file does not compile."""
    from dataclasses import replace

    from mgd.pragmaticcode.java.check import compile_errors
    from mgd.pragmaticcode.java.project import JavaProjectBuild, JavaSpec

    build = JavaProjectBuild.from_model(JavaSpec("shop", "1.2"), maven_model)
    till = "app/src/java/org/shop/app/Till.java"
    text = (maven_shop / till).read_text()
    [no_core] = compile_errors(replace(build, source_roots=[maven_shop / "app/src/java"]), till, [text])
    [no_jar] = compile_errors(replace(build, classpath=[]), till, [text])
    assert any("org.shop.core" in message for _kind, message in no_core), no_core
    assert any("org.apache" in message for _kind, message in no_jar), no_jar


def test_repo_build_of_a_dotprompts_repository_uses_the_model(maven_shop, tmp_path):
    from mgd.pragmaticcode.java.check import compile_errors
    from mgd.pragmaticcode.java.dotprompts import repo_build
    from mgd.pragmaticcode.prompts import Prompt

    repos = tmp_path / "repos"
    shutil.copytree(maven_shop, repos / "acme" / "shop")
    till = "app/src/java/org/shop/app/Till.java"
    prompt = Prompt("acme/shop:x:1", "acme/shop", "abc", till, "", {}, 0, "", [], {}, "java")
    build = repo_build(prompt, repos)
    shop = (repos / "acme" / "shop").resolve()
    assert build.source_roots == [shop / "core/src/main/java", shop / "app/src/java", shop / "core/src/test/java"]
    assert build.source_level == "17" and build.classpath  # commons-lang3: ~/.m2's 3.9 or Debian's
    assert compile_errors(build, till, [(shop / till).read_text()]) == [{}]


# -- the real JDT.LS ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jdtls(maven_shop, maven_model):
    from mgd.lsp.session import LanguageServerSession

    with LanguageServerSession(maven_shop, language="java", **maven_model.session_options()) as running:
        yield running


def _members(session, path: pathlib.Path, marker: str) -> frozenset[str] | None:
    from mgd.monitors.base import Document
    from mgd.monitors.dereference import DereferenceMonitor

    text = path.read_text()
    at = text.index(marker) + len(marker)
    rest = text[at:]
    cut = len(rest) - len(rest.lstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    return DereferenceMonitor().allowed_names(session, Document(str(path), text[:at], rest[cut:]), "")


def test_jdtls_lists_members_of_a_type_in_another_module(jdtls, maven_shop):
    names = _members(jdtls, maven_shop / "app/src/java/org/shop/app/Till.java", "inventory.")
    assert names is not None and {"countUnits", "restockAll"} <= names
    assert "length" not in names


def test_jdtls_lists_members_of_a_dependency_type(jdtls, maven_shop):
    names = _members(jdtls, maven_shop / "app/src/java/org/shop/app/Till.java", "StringUtils.")
    assert names is not None and {"capitalize", "isBlank", "abbreviate"} <= names


# -- Python ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def python_src(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("python") / "kit"
    return write(root, {
        "pyproject.toml": """
            [project]
            name = "kit"
            dependencies = ["jedi>=0.19", "surely-not-installed-xyz[extra]; python_version > '3'"]
            [tool.setuptools.packages.find]
            where = ["src"]
            """,
        "src/alpha/__init__.py": "",
        "src/alpha/shelf.py": "class Shelf:\n    def stack_books(self):\n        return 1\n",
        "src/beta/__init__.py": "",
        "tests/test_kit.py": "",
        "run.py": "from alpha.shelf import Shelf\n\nShelf().\n",
    })  # fmt: skip


def test_python_src_layout_with_two_packages(python_src, monkeypatch):
    model = read_project(python_src, "python")
    assert model.build_system == "python" and model.build_files == (str(python_src / "pyproject.toml"),)
    assert model.source_roots == (str(python_src / "src"),) and model.packages == ("alpha", "beta")
    assert model.dependencies == ("jedi", "surely-not-installed-xyz") and model.unresolved == ("surely-not-installed-xyz",)
    assert model.session_options() == {"extra_paths": [str(python_src / "src")]}
    monkeypatch.chdir(python_src / "src")
    assert read_project("..", "python") == model


def test_python_setup_cfg_poetry_and_no_build_file(tmp_path):
    cfg = write(tmp_path / "cfg", {
        "setup.cfg": "[options]\npackage_dir =\n    =lib\npackages = find:\ninstall_requires =\n    jedi\n    # a comment\n"
                     "[options.packages.find]\nwhere = lib\n",
        "lib/one/__init__.py": "", "lib/two/__init__.py": "",
    })  # fmt: skip
    model = read_project(cfg, "python")
    assert model.source_roots == (str(cfg / "lib"),) and model.packages == ("one", "two")
    assert model.dependencies == ("jedi",) and model.unresolved == ()
    poetry = write(tmp_path / "poetry", {
        "pyproject.toml": '[tool.poetry]\nname = "p"\npackages = [{include = "pa", from = "code"}, {include = "pb"}]\n'
                          '[tool.poetry.dependencies]\npython = "^3.10"\njedi = "*"\n',
        "code/pa/__init__.py": "", "pb/__init__.py": "",
    })  # fmt: skip
    model = read_project(poetry, "python")
    assert model.source_roots == (str(poetry / "code"), str(poetry)) and model.packages == ("pa", "pb")
    assert model.dependencies == ("jedi",)
    bare = write(tmp_path / "bare", {"src/x/__init__.py": ""})
    model = read_project(bare, "python")
    assert model.build_system == "none" and model.source_roots == (str(bare),)
    assert model.session_options() == {"extra_paths": []}


def test_jedi_finds_a_src_package_through_the_model(python_src):
    from mgd.lsp.session import LanguageServerSession
    from mgd.monitors.base import Document
    from mgd.monitors.dereference import DereferenceMonitor

    path = python_src / "run.py"
    text = path.read_text()
    prefix = text[: text.index("Shelf().") + len("Shelf().")]
    model = read_project(python_src, "python")
    with LanguageServerSession(python_src, **model.session_options()) as session:
        names = DereferenceMonitor().allowed_names(session, Document(str(path), prefix, "\n"), "")
    assert names is not None and "stack_books" in names


# -- the model behind `mgd complete`, `mgd serve` and `mgd.generate` ------------------------------------------------


def test_generate_reads_the_build_completes_across_modules_and_names_what_is_missing(maven_shop, real_model, jdtls, caplog):
    """mgd.generate on a multi-module Maven project: guided by the other module's type, the ghost jar reported."""
    from mgd.completion import generate

    model, tokenizer = real_model
    till = maven_shop / "app/src/java/org/shop/app/Till.java"
    lines = till.read_text().split("\n")
    line = next(i for i, text in enumerate(lines, 1) if "inventory.countUnits" in text)
    column = lines[line - 1].index("inventory.") + len("inventory.") + 1
    with caplog.at_level(logging.WARNING, logger="mgd"):
        completion = generate(maven_shop, till, line, column, model=model, tokenizer=tokenizer, max_new_tokens=8)
    # constrained at all: JDT.LS resolved `core`'s Inventory (without the module's folder it knows no members)
    assert completion.constrained_steps > 0 and completion.unanswered_queries == 0
    members = _members(jdtls, till, "inventory.")
    assert re.match(r"\w+", completion.text).group(0) in members, completion.text
    assert any(GHOST in record.getMessage() and "not found" in record.getMessage() for record in caplog.records)


def test_a_build_that_cannot_be_read_leaves_the_default_folders(tmp_path, caplog):
    """A broken pom.xml costs one warning, not the session."""
    from mgd.lsp.project import project_session

    (tmp_path / "pom.xml").write_text("<project><modules><module>core</module>")  # cut off
    (tmp_path / "src").mkdir()
    with caplog.at_level(logging.WARNING, logger="mgd"):
        session = project_session(tmp_path, "java")
    assert session.source_paths == [str(tmp_path / "src")] and session.language == "java" and not session.available
    assert [r.getMessage() for r in caplog.records if "not read" in r.getMessage()], caplog.text


def test_files_the_compiler_plugin_excludes_are_left_out_of_the_check(tmp_path, stores):
    """maven-compiler-plugin `<excludes>` (Debian's commons-vfs drops its HDFS provider so): not compiled, not prompted."""
    from mgd.pragmaticcode.java.check import check_project
    from mgd.pragmaticcode.java.project import JavaProjectBuild, JavaSpec

    root = write(tmp_path / "vfs", {
        "pom.xml": POM_HEAD + """
            <modelVersion>4.0.0</modelVersion><groupId>org.vfs</groupId><artifactId>vfs</artifactId><version>1</version>
            <build><plugins><plugin><artifactId>maven-compiler-plugin</artifactId>
              <executions><execution><id>default-compile</id><goals><goal>compile</goal></goals>
                <configuration><excludes><exclude>**/hdfs/*</exclude></excludes></configuration>
              </execution></executions>
            </plugin></plugins></build>
            </project>
            """,
        "src/main/java/org/vfs/Files.java": "package org.vfs;\npublic class Files { public int count() { return 1; } }\n",
        "src/main/java/org/vfs/hdfs/Hdfs.java": "package org.vfs.hdfs;\nimport org.apache.hadoop.fs.FileStatus;\n"
                                               "public class Hdfs { FileStatus status; }\n",
    })  # fmt: skip
    model = read_project(root, "java", stores=stores)
    hdfs = root / "src/main/java/org/vfs/hdfs/Hdfs.java"
    assert model.excluded == (f"{root}/src/main/java/**/hdfs/*",) and model.excludes(hdfs)
    assert not model.excludes(root / "src/main/java/org/vfs/Files.java")
    build = JavaProjectBuild.from_model(JavaSpec("vfs", "1"), model)
    assert build.java_files() == [root / "src/main/java/org/vfs/Files.java"]
    level, errors, _seconds = check_project(build)
    assert level is not None and not errors  # the excluded file, which cannot compile here, is not checked
