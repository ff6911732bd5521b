// SPDX-License-Identifier: Apache-2.0
// enclavectl: what every command shares (instance lookup, errors, one admin
// API call).
#include <cstdlib>
#include <iostream>

#include "appliance/admin_client.hpp"
#include "appliance/config.hpp"
#include "appliance/ctl.hpp"

namespace enclave::appliance::ctl {

using nlohmann::json;

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

std::string field_text(const nlohmann::json& j, const char* key, std::size_t max,
                       bool empty_as_dash) {
    if (!j.is_object() || !j.contains(key)) return "-";
    const nlohmann::json& v = j.at(key);
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        return s.empty() && empty_as_dash ? "-" : printable(s, max);
    }
    if (v.is_number() || v.is_boolean()) return v.dump();
    return "-";
}

std::string printable(std::string_view s, std::size_t max) {
    std::string out;
    for (unsigned char c : s.substr(0, max)) {
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    return out;
}

int call(const Globals& g, std::string_view method, std::string_view target,
         std::string_view body, json& out) {
    const std::filesystem::path dir = data_dir_of(g);
    const std::filesystem::path file =
        g.config.empty() ? dir / "enclave.toml" : std::filesystem::path(g.config);
    auto config = load_config(file, dir);
    if (!config) {
        if (config.error().code() == crypto::Errc::not_found) {
            return report_error(g, "not_found",
                                "no instance: " + file.string() +
                                    " does not exist (run `enclavectl init --data-dir " +
                                    dir.string() + "` first)");
        }
        return report_error(g, config.error());
    }
    const std::filesystem::path socket = config->resolve(config->admin.socket);
    AdminClientOptions options;
    options.timeout = std::chrono::seconds(60);  // checkpoints sign on the token
    options.max_response_bytes = 8 * 1024 * 1024;
    const AdminClient client(socket, options);
    auto r = method == "GET" ? client.get_json(target) : client.post_json(target, body);
    if (!r) {
        if (daemon_not_running(r.error())) {
            return report_error(g, "daemon_not_running",
                                "enclaved is not running: cannot connect to " + socket.string(),
                                kExitNotRunning);
        }
        return report_error(g, r.error());
    }
    out = std::move(*r);
    return kExitOk;
}

std::string query(std::initializer_list<std::pair<std::string_view, std::string>> params) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const auto& [name, value] : params) {
        out += (out.empty() ? "" : "&") + std::string(name) + "=";
        for (unsigned char c : value) {
            const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                               (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                               c == '~';
            if (plain) {
                out += static_cast<char>(c);
            } else {
                out += '%';
                out += kHex[c >> 4];
                out += kHex[c & 0x0f];
            }
        }
    }
    return out;
}

}  // namespace enclave::appliance::ctl
