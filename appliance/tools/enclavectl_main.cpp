// SPDX-License-Identifier: Apache-2.0
// enclavectl: provisions an instance (init) and asks a running enclaved about
// itself over the admin socket (status, hsm status).
//
// Exit codes (docs/provisioning.md): 0 ok, 1 usage error, 2 failure,
// 3 enclaved is not running. With --json, stdout carries exactly one JSON
// document (the result, or {"error":{"code","message"}}); without it, human
// text. Errors also go to stderr. No PIN is ever taken from argv.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "appliance/admin_client.hpp"
#include "appliance/config.hpp"
#include "appliance/provision.hpp"

namespace {

using namespace enclave;
using appliance::AdminClient;
using nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;
constexpr int kExitFailure = 2;
constexpr int kExitNotRunning = 3;

struct Globals {
    std::string data_dir;
    std::string config;
    bool json = false;
};

std::filesystem::path data_dir_of(const Globals& g) {
    if (!g.data_dir.empty()) return g.data_dir;
    if (const char* env = std::getenv("ENCLAVE_DATA_DIR"); env != nullptr && *env != '\0') {
        return env;
    }
    return "./var";
}

int report_error(const Globals& g, std::string_view code, const std::string& message,
                 int exit_code) {
    if (g.json) {
        std::cout << json{{"error", {{"code", code}, {"message", message}}}}.dump(2) << "\n";
    }
    std::cerr << "enclavectl: " << message << "\n";
    return exit_code;
}

int report_error(const Globals& g, const crypto::Error& e) {
    return report_error(g, crypto::errc_name(e.code()), e.context(), kExitFailure);
}

// Printable ASCII only: text from the socket must not drive the terminal.
std::string printable(std::string_view s) {
    std::string out;
    for (unsigned char c : s.substr(0, 256)) {
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    return out;
}

// A field of a JSON object from the daemon as text ("?" when absent).
std::string text(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key)) return "?";
    const json& v = j.at(key);
    if (v.is_string()) return printable(v.get<std::string>());
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    if (v.is_number() || v.is_null()) return v.dump();
    return "?";
}

json object(const json& j, const char* key) {
    return j.is_object() && j.contains(key) && j.at(key).is_object() ? j.at(key) : json::object();
}

json array(const json& j, const char* key) {
    return j.is_object() && j.contains(key) && j.at(key).is_array() ? j.at(key) : json::array();
}

int cmd_init(const Globals& g, appliance::ProvisionOptions o) {
    o.data_dir = data_dir_of(g);
    auto r = appliance::provision_instance(o);
    if (!r) return report_error(g, r.error());
    json keys = json::array();
    for (const auto& k : r->keys) {
        keys.push_back({{"label", k.label}, {"type", k.type}, {"uri", k.uri}});
    }
    json files = json::array();
    for (const auto& f : r->created) files.push_back(f.string());
    if (g.json) {
        std::cout << json{{"data_dir", r->data_dir.string()},
                          {"config", r->config_file.string()},
                          {"own_softhsm", r->own_softhsm},
                          {"module", r->module_path},
                          {"token",
                           {{"label", r->token.label},
                            {"manufacturer", r->token.manufacturer},
                            {"model", r->token.model},
                            {"serial", r->token.serial}}},
                          {"keys", keys},
                          {"files", files},
                          {"warnings", r->warnings}}
                         .dump(2)
                  << "\n";
        return kExitOk;
    }
    std::cout << "Provisioned an Enclave instance in " << r->data_dir.string() << "\n"
              << "  config: " << r->config_file.string() << "\n"
              << "  token:  '" << r->token.label << "' (" << r->token.model << ", serial "
              << r->token.serial << ")"
              << (r->own_softhsm ? ", SoftHSM2 under the data directory" : "")
              << "\n  module: " << r->module_path
              << "\n  keys on the token (sensitive, non-extractable):\n";
    for (const auto& k : r->keys) {
        std::cout << "    " << std::left << std::setw(16) << k.label << k.type << "\n";
    }
    std::cout << "  demo PKI: " << (r->data_dir / "pki").string()
              << " (DEMO CA: not for production)\n";
    for (const auto& w : r->warnings) std::cout << "WARNING: " << w << "\n";
    std::cout << "Start the daemon with: enclaved --data-dir " << r->data_dir.string() << "\n";
    return kExitOk;
}

// Loads the config and GETs `target` from the admin socket it names.
int query_daemon(const Globals& g, std::string_view target, json& out) {
    const std::filesystem::path dir = data_dir_of(g);
    const std::filesystem::path file =
        g.config.empty() ? dir / "enclave.toml" : std::filesystem::path(g.config);
    auto config = appliance::load_config(file, dir);
    if (!config) {
        if (config.error().code() == crypto::Errc::not_found) {
            return report_error(g, "not_found",
                                "no instance: " + file.string() +
                                    " does not exist (run "
                                    "`enclavectl init --data-dir " +
                                    dir.string() + "` first)",
                                kExitFailure);
        }
        return report_error(g, config.error());
    }
    const std::filesystem::path socket = config->resolve(config->admin.socket);
    auto r = AdminClient(socket).get_json(target);
    if (!r) {
        if (appliance::daemon_not_running(r.error())) {
            return report_error(g, "daemon_not_running",
                                "enclaved is not running: cannot connect to " + socket.string(),
                                kExitNotRunning);
        }
        return report_error(g, r.error());
    }
    out = std::move(*r);
    return kExitOk;
}

int cmd_status(const Globals& g) {
    json s;
    if (int rc = query_daemon(g, "/v1/status", s); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << s.dump(2) << "\n";
        return kExitOk;
    }
    const json token = object(s, "token");
    std::cout << "enclaved " << text(s, "version") << ", instance '" << text(s, "instance") << "'\n"
              << "  ready:   " << text(s, "ready") << "\n"
              << "  uptime:  " << text(s, "uptime_seconds") << " s\n"
              << "  token:   '" << text(token, "label")
              << "', logged in: " << text(token, "logged_in") << "\n"
              << "  listeners:\n";
    for (const json& l : array(s, "listeners")) {
        std::cout << "    " << std::left << std::setw(8) << text(l, "name") << std::setw(24)
                  << text(l, "address") << text(l, "active_connections") << " active connections\n";
    }
    return kExitOk;
}

int cmd_hsm_status(const Globals& g) {
    json s;
    if (int rc = query_daemon(g, "/v1/hsm/status", s); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << s.dump(2) << "\n";
        return kExitOk;
    }
    const json module = object(s, "module");
    const json token = object(s, "token");
    std::cout << "module: " << text(module, "path") << " (" << text(module, "manufacturer") << ")\n"
              << "token:  '" << text(token, "label") << "' " << text(token, "manufacturer") << " "
              << text(token, "model") << ", serial " << text(token, "serial") << ", slot "
              << text(token, "slot_id") << "\nkeys:\n  " << std::left << std::setw(18) << "LABEL"
              << std::setw(9) << "CLASS" << std::setw(10) << "TYPE" << std::setw(11) << "SENSITIVE"
              << std::setw(13) << "EXTRACTABLE"
              << "ID\n";
    for (const json& k : array(s, "keys")) {
        std::cout << "  " << std::setw(18) << text(k, "label") << std::setw(9) << text(k, "class")
                  << std::setw(10) << text(k, "type") << std::setw(11) << text(k, "sensitive")
                  << std::setw(13) << text(k, "extractable") << text(k, "id") << "\n";
    }
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "enclavectl: provision an Enclave instance and inspect a running enclaved.\n"
        "Exit codes: 0 ok, 1 usage error, 2 failure, 3 enclaved is not running."};
    app.fallthrough();  // global options are accepted after the subcommand too (inherited)
    app.require_subcommand(1);
    Globals g;
    app.add_option("--data-dir", g.data_dir,
                   "Instance data directory (default: $ENCLAVE_DATA_DIR, else ./var)");
    app.add_option("--config", g.config, "Config file (default: DATA_DIR/enclave.toml)");
    app.add_flag("--json", g.json, "Machine-readable JSON on stdout");

    appliance::ProvisionOptions po;
    std::string pin_file;
    std::string label;
    CLI::App* init = app.add_subcommand("init", "Provision a new instance in the data directory");
    CLI::Option* uri_opt = init->add_option(
        "--pkcs11-uri", po.pkcs11_uri, "Use this existing token instead of a new SoftHSM2 token");
    CLI::Option* pin_opt =
        init->add_option("--pin-file", pin_file, "User PIN of that token (a 0600 file)");
    CLI::Option* label_opt = init->add_option("--force-new-token-label", label,
                                              "Label of the new SoftHSM2 token (default: enclave)");
    uri_opt->needs(pin_opt);
    pin_opt->needs(uri_opt);
    label_opt->excludes(uri_opt);
    CLI::App* status = app.add_subcommand("status", "Show the running daemon's status");
    CLI::App* hsm = app.add_subcommand("hsm", "Token commands");
    hsm->require_subcommand(1);
    CLI::App* hsm_status = hsm->add_subcommand("status", "Show the token, its slot and its keys");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);  // help text on stdout, or the usage error on stderr
        if (rc == 0) return kExitOk;
        // --json promises one JSON document on stdout, usage errors included.
        for (int i = 1; i < argc; ++i) {
            if (std::string_view(argv[i]) == "--json") {
                std::cout << json{{"error", {{"code", "usage"}, {"message", e.what()}}}}.dump(2)
                          << "\n";
                break;
            }
        }
        return kExitUsage;
    }
    try {
        if (init->parsed()) {
            po.pin_file = pin_file;
            if (!label.empty() || label_opt->count() > 0) po.token_label = label;
            return cmd_init(g, po);
        }
        if (status->parsed()) return cmd_status(g);
        if (hsm_status->parsed()) return cmd_hsm_status(g);
    } catch (const std::exception& e) {
        return report_error(g, "internal", std::string("unexpected failure: ") + e.what(),
                            kExitFailure);
    }
    return kExitUsage;
}
