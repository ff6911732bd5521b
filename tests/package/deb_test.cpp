// SPDX-License-Identifier: Apache-2.0
// The Debian package (issue #9; cmake/EnclavePackaging.cmake,
// docs/packaging.md), as built: ctest's fixture `package_build` runs cpack
// on this build tree first; these tests only read the .deb with dpkg-deb
// and run the programs it carries.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "appliance/config.hpp"
#include "harness/instance.hpp"
#include "harness/unix_user.hpp"

#ifndef ENCLAVE_DEB_DIR
#error "ENCLAVE_DEB_DIR must be defined by the build"
#endif

namespace enclave::daemon_test {
namespace {

std::string on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string d; std::getline(dirs, d, ':');) {
        const auto f = std::filesystem::path(d) / name;
        if (::access(f.c_str(), X_OK) == 0) return f.string();
    }
    return {};
}

class DebTest : public ::testing::Test {
protected:
    void SetUp() override {
        dpkg_deb_ = on_path("dpkg-deb");
        ASSERT_FALSE(dpkg_deb_.empty())
            << "dpkg-deb not found: install the Debian packages 'dpkg' and 'dpkg-dev'";
        std::vector<std::filesystem::path> debs;
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(ENCLAVE_DEB_DIR, ec)) {
            const auto name = e.path().filename().string();
            if (name.rfind("enclave_", 0) == 0 && e.path().extension() == ".deb") {
                debs.push_back(e.path());
            }
        }
        ASSERT_EQ(debs.size(), 1u) << "expected one enclave_*.deb in " << ENCLAVE_DEB_DIR
                                   << " (made by the ctest fixture package_build: cpack)";
        deb_ = debs.front();
    }

    RunResult dpkg_deb(const std::vector<std::string>& args) {
        std::vector<std::string> argv = {dpkg_deb_};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_program(argv);
    }

    std::string dpkg_deb_;
    std::filesystem::path deb_;
};

struct Entry {
    std::string perms;  ///< "-rwxr-xr-x"
    std::string owner;  ///< "root/root"
    std::string path;   ///< "./usr/bin/enclaved"
};

std::vector<Entry> parse_contents(const std::string& listing) {
    std::vector<Entry> out;
    std::istringstream in(listing);
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        Entry e;
        std::string size, date, time;
        f >> e.perms >> e.owner >> size >> date >> time >> e.path;
        if (!e.path.empty()) out.push_back(e);
    }
    return out;
}

bool allowed(const std::string& path) {
    static const std::set<std::string> dirs = {
        "./",           "./usr/",          "./usr/bin/",  "./usr/share/", "./usr/share/doc/",
        "./lib/",       "./lib/systemd/",  "./lib/systemd/system/",       "./etc/",
        "./etc/enclave/"};
    static const std::set<std::string> files = {"./usr/bin/enclaved", "./usr/bin/enclavectl",
                                                "./lib/systemd/system/enclaved.service"};
    if (dirs.contains(path) || files.contains(path)) return true;
    for (const char* prefix : {"./usr/share/enclave/", "./usr/share/doc/enclave/"}) {
        if (path.rfind(prefix, 0) == 0) return true;
    }
    return false;
}

TEST_F(DebTest, HoldsTheProgramsUnitSchemasAndNothingElse) {
    const RunResult r = dpkg_deb({"--contents", deb_.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto entries = parse_contents(r.out);
    std::set<std::string> paths;
    for (const auto& e : entries) {
        paths.insert(e.path);
        EXPECT_TRUE(allowed(e.path)) << "unexpected path in the package: " << e.path;
        EXPECT_EQ(e.owner, "root/root") << e.path;
        // Nothing writable by group or others, no setuid/setgid bit.
        ASSERT_EQ(e.perms.size(), 10u) << e.path;
        EXPECT_NE(e.perms[5], 'w') << e.path << " " << e.perms;
        EXPECT_NE(e.perms[8], 'w') << e.path << " " << e.perms;
        EXPECT_EQ(e.perms.find_first_of("sS"), std::string::npos) << e.path << " " << e.perms;
        if (e.path == "./usr/bin/enclaved" || e.path == "./usr/bin/enclavectl") {
            EXPECT_EQ(e.perms, "-rwxr-xr-x") << e.path;
        }
    }
    for (const char* want :
         {"./usr/bin/enclaved", "./usr/bin/enclavectl", "./lib/systemd/system/enclaved.service",
          "./etc/enclave/", "./usr/share/enclave/schemas/enclave/ts_103707_enclave.xsd",
          "./usr/share/enclave/schemas/enclave/enclave_schema_set.xsd.in",
          "./usr/share/enclave/schemas/etsi/_local_hi1_validation_wrapper.xsd",
          "./usr/share/enclave/schemas/archive/ltap.xsd", "./usr/share/doc/enclave/packaging.md"}) {
        EXPECT_TRUE(paths.contains(want)) << "the package lacks " << want << "\n" << r.out;
    }
}

TEST_F(DebTest, ControlNamesTheRuntimeDependencies) {
    const RunResult r = dpkg_deb({"--field", deb_.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(\nDepends: ([^\n]*))"))) << r.out;
    const std::string depends = m[1].str();
    // From dpkg-shlibdeps (the libraries the programs link) and our own list.
    for (const char* lib : {"libc6", "libssl3", "libsodium23", "libsqlcipher", "libp11-kit0",
                            "libxml2", "p11-kit", "adduser"}) {
        EXPECT_NE(depends.find(lib), std::string::npos) << "Depends lacks " << lib << ": " << depends;
    }
    EXPECT_NE(r.out.find("Package: enclave\n"), std::string::npos) << r.out;
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\nRecommends: [^\n]*softhsm2)"))) << r.out;
}

TEST_F(DebTest, MaintainerScriptsCreateTheSystemUser) {
    testing::TempDir tmp;
    const auto control = tmp.path() / "control";
    const RunResult r = dpkg_deb({"--control", deb_.string(), control.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string postinst = read_file(control / "postinst");
    EXPECT_TRUE(std::regex_search(postinst, std::regex(R"(adduser --system --group)"))) << postinst;
    EXPECT_NE(postinst.find("--shell /usr/sbin/nologin"), std::string::npos) << postinst;
    EXPECT_NE(postinst.find("install -d -m 0700 -o enclave -g enclave /var/lib/enclave"),
              std::string::npos)
        << postinst;
    for (const char* script : {"postinst", "prerm", "postrm"}) {
        const auto file = control / script;
        struct stat st {};
        ASSERT_EQ(::stat(file.c_str(), &st), 0) << script << " missing";
        EXPECT_EQ(st.st_mode & 0777, 0755u) << script;
        const RunResult syntax = run_program({"/bin/sh", "-n", file.string()});
        EXPECT_EQ(syntax.exit_code, 0) << script << ": " << syntax.err;
    }
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << "cannot write " << path;
}

void own(const std::filesystem::path& path, uid_t uid, gid_t gid, mode_t mode) {
    ASSERT_EQ(::chown(path.c_str(), uid, gid), 0) << path;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

// The packaged programs (stripped, unpacked elsewhere) in the layout the unit
// gives them (docs/packaging.md): an unprivileged user, the instance in DIR
// (its own, 0700), the configuration in a root-owned folder (--config), the
// PIN as a credential ($CREDENTIALS_DIRECTORY), the admin socket in a
// runtime folder. enclaved serves, with the schemas the package carries
// under <prefix>/share/enclave, not the build tree's; the packaged
// enclavectl reaches it.
TEST_F(DebTest, PackagedDaemonServesInTheUnitsLayout) {
    testing::TempDir root;
    const RunResult x = dpkg_deb({"--extract", deb_.string(), root.path().string()});
    ASSERT_EQ(x.exit_code, 0) << x.err;
    ASSERT_EQ(::chmod(root.path().c_str(), 0755), 0);  // the unprivileged user runs from it
    EXPECT_EQ(read_file(root.path() / "lib/systemd/system/enclaved.service"),
              read_file(std::filesystem::path(ENCLAVE_SOURCE_DIR) / "image/systemd/enclaved.service"));
    const auto enclaved = root.path() / "usr/bin/enclaved";
    const auto enclavectl = root.path() / "usr/bin/enclavectl";

    TestInstance inst;
    const Nobody user = nobody();
    const auto etc = inst.scratch() / "etc-enclave";
    const auto creds = inst.scratch() / "credentials";
    const auto runtime = inst.scratch() / "run-enclave";
    for (const auto& d : {etc, creds, runtime}) std::filesystem::create_directory(d);
    inst.config().token.pin_source = {appliance::PinSource::Kind::credential, "token-pin"};
    inst.config().admin.socket = runtime / "admin.sock";
    write_file(etc / "enclave.toml", appliance::render_config(inst.config()));
    std::filesystem::copy_file(inst.dir() / "token.pin", creds / "token-pin");
    std::filesystem::remove(inst.dir() / "token.pin");
    std::filesystem::remove(inst.dir() / "enclave.toml");
    ASSERT_EQ(::chmod(inst.scratch().c_str(), 0711), 0);
    for (const auto& e : std::filesystem::recursive_directory_iterator(inst.dir())) {
        ASSERT_EQ(::lchown(e.path().c_str(), user.uid, user.gid), 0) << e.path();
    }
    own(inst.dir(), user.uid, user.gid, 0700);
    own(etc, 0, user.gid, 0750);
    own(etc / "enclave.toml", 0, user.gid, 0640);
    own(creds, user.uid, user.gid, 0500);
    own(creds / "token-pin", user.uid, user.gid, 0400);
    own(runtime, user.uid, user.gid, 0750);

    const std::string setpriv = on_path("setpriv");
    ASSERT_FALSE(setpriv.empty()) << "setpriv not found: install the Debian package 'util-linux'";
    SpawnOptions o;
    o.argv = {setpriv, "--reuid=" + std::to_string(user.uid),
              "--regid=" + std::to_string(user.gid), "--clear-groups", enclaved.string(),
              "--data-dir", inst.dir().string(), "--config", (etc / "enclave.toml").string()};
    o.env = {"CREDENTIALS_DIRECTORY=" + creds.string()};
    o.unset_env = {"SOFTHSM2_CONF", "NOTIFY_SOCKET", "JOURNAL_STREAM"};
    o.stderr_file = inst.scratch() / "enclaved.stderr";
    Process p(o);
    ASSERT_TRUE(inst.wait_ready(p)) << "setpriv (util-linux) or enclaved failed:\n" << inst.log();
    const auto schemas = root.path() / "usr/share/enclave/schemas";
    EXPECT_NE(inst.log().find("LTAP schema " + (schemas / "archive" / "ltap.xsd").string()),
              std::string::npos)
        << inst.log();
    EXPECT_NE(inst.log().find("XML schemas from " + (schemas / "enclave").string() + " and " +
                              (schemas / "etsi").string()),
              std::string::npos)
        << inst.log();
    const RunResult st = run_program({enclavectl.string(), "--data-dir", inst.dir().string(),
                                      "--config", (etc / "enclave.toml").string(), "status"});
    EXPECT_EQ(st.exit_code, 0) << st.out << st.err;
    EXPECT_NE(st.out.find("ready:   yes"), std::string::npos) << st.out;
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait_exit(std::chrono::seconds(30)).value_or(-1), 0) << inst.log();
}

}  // namespace
}  // namespace enclave::daemon_test
