// SPDX-License-Identifier: Apache-2.0
// enclaved: the Enclave daemon. Runs in the foreground (no fork: PKCS#11
// handles do not survive it); systemd or a terminal supervises it.
//
//   enclaved [--data-dir DIR] [--config FILE]
//
// The instance folder is --data-dir, else the folder of --config, else
// $ENCLAVE_DATA_DIR, else ./var. The configuration is --config, else
// DIR/enclave.toml. Exit codes: appliance/daemon.hpp, docs/operations.md.
#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "appliance/admin_api.hpp"
#include "appliance/allocator_tuning.hpp"
#include "appliance/daemon.hpp"

int main(int argc, char** argv) {
    // Before anything else: may execute enclaved again with glibc tuned.
    enclave::appliance::apply_allocator_tuning(argv);
    using enclave::appliance::ExitCode;
    CLI::App app{"enclaved: the Enclave appliance daemon (mutual-TLS listeners, admin API)"};
    std::string data_dir;
    std::string config_file;
    bool version = false;
    app.add_option("--data-dir", data_dir,
                   "instance folder (default: $ENCLAVE_DATA_DIR, else ./var)");
    app.add_option("--config", config_file, "configuration file (default: DIR/enclave.toml)");
    app.add_flag("--version", version, "print the version and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return static_cast<int>(ExitCode::usage);
    }
    if (version) {
        std::cout << "enclaved " << enclave::appliance::kEnclaveVersion << '\n';
        return 0;
    }
    enclave::appliance::DaemonOptions options;
    options.config_file = config_file;
    if (!data_dir.empty()) {
        options.data_dir = data_dir;
    } else if (!config_file.empty()) {
        options.data_dir = std::filesystem::absolute(config_file).parent_path();
    } else if (const char* env = std::getenv("ENCLAVE_DATA_DIR"); env != nullptr && *env != '\0') {
        options.data_dir = env;
    } else {
        options.data_dir = "var";
    }
    return enclave::appliance::run_daemon(options);
}
