// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclaved's start-up sequence, in this order (nothing listens before the
// last step, so a bad config, a missing token or a wrong PIN never leaves a
// half-started daemon reachable):
//
//   1. parse the configuration (every error names the key);
//   2. check that no other daemon answers on the admin socket;
//   3. SOFTHSM2_CONF=DATA_DIR/softhsm2.conf when the configured module is
//      SoftHSM and the instance has its own softhsm2.conf;
//   4. load the PKCS#11 module (token.module_path, or as the token URI says);
//   5. find the token; 6. read the PIN from token.pin_source;
//   7. open the session pool (C_Login; a rejected PIN is never retried);
//   8. build every listener's SSL context (token keys only);
//   9. bind the admin socket and the TCP listeners; 10. serve.
// While serving, a TokenSupervisor (appliance/token_supervisor.hpp) watches
// the token: readiness drops and ingest answers 503 while it is gone, and the
// daemon recovers when it returns (a lost token never ends the process).
//
// enclaved never forks (PKCS#11 handles do not survive fork): it runs in the
// foreground under systemd (Type=notify) or a terminal.

#include <filesystem>

namespace enclave::appliance {

/// Process exit codes of enclaved (documented in docs/operations.md).
enum class ExitCode : int {
    ok = 0,               ///< stopped by SIGTERM/SIGINT after a clean shutdown
    internal = 1,         ///< unexpected failure (a bug, out of memory)
    usage = 2,            ///< bad command line
    config = 3,           ///< configuration file missing, unreadable or invalid
    module = 4,           ///< the PKCS#11 module could not be loaded or initialised
    token_not_found = 5,  ///< no initialised token matches token.uri
    pin_unavailable = 6,  ///< the PIN source could not be read (file mode, missing variable...)
    pin_rejected = 7,     ///< the token refused the PIN (incorrect or locked); not retried
    tls = 8,              ///< a listener's certificate, token key, trust anchors or CRL unusable
    bind = 9,  ///< a listener or the admin socket cannot be bound, or another daemon runs
    store = 10,  ///< the audit log or the task store cannot be opened, fails its
                 ///< integrity check, or its keys (kek, audit-signing) are missing
    unsafe = 11,  ///< the data or state directory is open to group/others, or key
                  ///< memory cannot be locked (process_hardening.hpp)
};

struct DaemonOptions {
    std::filesystem::path data_dir;     ///< the instance folder
    std::filesystem::path config_file;  ///< "" = data_dir/enclave.toml
};

/// Runs the daemon in the foreground until SIGTERM/SIGINT. Returns the exit
/// code; every failure is logged to stderr first ("error <component>: ...").
int run_daemon(const DaemonOptions& options);

}  // namespace enclave::appliance
