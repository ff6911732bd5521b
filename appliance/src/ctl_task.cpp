// SPDX-License-Identifier: Apache-2.0
// enclavectl task create|list|show|close (docs/tasks.md).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iomanip>
#include <iostream>

#include "appliance/ctl.hpp"
#include "ctl_input.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance::ctl {

using nlohmann::json;

namespace {

std::string text(const json& j, const char* key) { return field_text(j, key); }

void print_record(const json& r) {
    std::cout << text(r, "reference") << " (" << text(r, "kind") << ", " << text(r, "state")
              << ")\n"
              << "  start:     " << text(r, "start") << "\n"
              << "  end:       " << text(r, "end") << "\n"
              << "  endpoint:  " << text(r, "endpoint") << "\n"
              << "  created:   " << text(r, "created") << "\n";
    if (r.contains("closed")) {
        std::cout << "  closed:    " << text(r, "closed") << " (" << text(r, "close_reason")
                  << ")\n";
    }
    if (r.contains("purged")) std::cout << "  purged:    " << text(r, "purged") << "\n";
    if (r.contains("fields") && r["fields"].is_array()) {
        for (const json& f : r["fields"]) {
            std::cout << "  field " << text(f, "index") << ": " << text(f, "formatName") << ", "
                      << text(f, "algorithm") << " " << text(f, "hash") << "\n";
        }
    }
    if (r.contains("deliveries") && r["deliveries"].is_object()) {
        std::cout << "  deliveries: " << text(r["deliveries"], "count") << "\n";
    }
}

int print(const Globals& g, const json& out) {
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        print_record(out);
    }
    return kExitOk;
}

}  // namespace

int task_create(const Globals& g, const std::string& file) {
    auto body = detail::read_input(file, 256 * 1024);
    if (!body) return report_error(g, body.error());
    json out;
    const int rc = call(g, "POST", "/v1/tasks", detail::text_of(*body), out);
    if (rc != kExitOk) return rc;
    return print(g, out);
}

int task_list(const Globals& g) {
    json out;
    if (int rc = call(g, "GET", "/v1/tasks", {}, out); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
        return kExitOk;
    }
    std::cout << std::left << std::setw(28) << "REFERENCE" << std::setw(5) << "KIND"
              << std::setw(8) << "STATE" << std::setw(26) << "END" << "FIELDS\n";
    for (const json& r : out.value("tasks", json::array())) {
        std::cout << std::setw(28) << text(r, "reference") << std::setw(5) << text(r, "kind")
                  << std::setw(8) << text(r, "state") << std::setw(26) << text(r, "end")
                  << (r.contains("fields") && r["fields"].is_array() ? r["fields"].size() : 0)
                  << "\n";
    }
    return kExitOk;
}

int task_show(const Globals& g, const std::string& reference, bool reveal) {
    json out;
    const std::string q = query({{"reference", reference}});
    if (!reveal) {
        if (int rc = call(g, "GET", "/v1/task?" + q, {}, out); rc != kExitOk) return rc;
        return print(g, out);
    }
    if (int rc = call(g, "POST", "/v1/task/reveal?" + q, {}, out); rc != kExitOk) return rc;
    if (print_if_proposed(g, out)) return kExitOk;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << "REVEALED (this disclosure is recorded in the audit log)\n";
        for (const json& f : out.value("fields", json::array())) {
            std::cout << "  field " << text(f, "index") << " (" << text(f, "formatName") << ", "
                      << text(f, "algorithm") << "): value " << text(f, "value") << "  salt "
                      << text(f, "salt") << "\n";
        }
    }
    detail::wipe_json(out);
    return kExitOk;
}

int task_close(const Globals& g, const std::string& reference) {
    json out;
    const std::string target = "/v1/task/close?" + query({{"reference", reference}});
    if (int rc = call(g, "POST", target, {}, out); rc != kExitOk) return rc;
    return print(g, out);
}

}  // namespace enclave::appliance::ctl
