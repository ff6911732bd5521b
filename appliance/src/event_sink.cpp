// SPDX-License-Identifier: Apache-2.0
#include "appliance/event_sink.hpp"

#include <nlohmann/json.hpp>

#include "appliance/log.hpp"

namespace enclave::appliance {
namespace {

// The text of each allowed field type. There is deliberately no overload for
// std::string, byte buffers or anything else (event_sink.hpp).
std::string text_of(const monitoring::Name& v) { return v.str(); }
std::string text_of(const monitoring::Fingerprint& v) { return v.str(); }
std::string text_of(const monitoring::Address& v) { return v.str(); }
std::string text_of(const monitoring::Account& v) { return v.str(); }
std::string text_of(monitoring::Count v) { return std::to_string(v.value); }
std::string text_of(monitoring::Number v) { return std::to_string(v.value); }
std::string text_of(bool v) { return v ? "true" : "false"; }
std::string text_of(HandshakeFailure v) { return std::string(handshake_failure_name(v)); }
std::string text_of(crypto::Errc v) { return std::string(crypto::errc_name(v)); }
std::string text_of(delivery::ServerIdentityFailure v) {
    return std::string(delivery::server_identity_failure_name(v));
}

nlohmann::json json_of(monitoring::Count v) { return v.value; }
nlohmann::json json_of(monitoring::Number v) { return v.value; }
nlohmann::json json_of(bool v) { return v; }
template <class T>
nlohmann::json json_of(const T& v) {
    return text_of(v);
}

LogLevel level_of(Severity s) noexcept {
    switch (s) {
        case Severity::critical:
        case Severity::error: return LogLevel::error;
        case Severity::warning: return LogLevel::warning;
        case Severity::notice:
        case Severity::info: return LogLevel::info;
    }
    return LogLevel::warning;
}

template <class E>
std::vector<std::string_view> field_names() {
    std::vector<std::string_view> names;
    E{}.fields([&](std::string_view name, const auto&) { names.push_back(name); });
    return names;
}

template <class... E>
std::vector<EventTypeInfo> catalogue_of(std::variant<E...>*) {
    return {EventTypeInfo{E::kName, E::kSeverity, field_names<E>()}...};
}

}  // namespace

std::string_view severity_name(Severity s) noexcept {
    switch (s) {
        case Severity::critical: return "critical";
        case Severity::error: return "error";
        case Severity::warning: return "warning";
        case Severity::notice: return "notice";
        case Severity::info: return "info";
    }
    return "warning";
}

std::string_view event_name(const Event& event) noexcept {
    return std::visit([](const auto& e) { return std::decay_t<decltype(e)>::kName; }, event);
}

Severity event_severity(const Event& event) noexcept {
    if (const auto* r = std::get_if<events::TlsReloaded>(&event); r != nullptr && !r->ok) {
        return Severity::error;
    }
    if (const auto* c = std::get_if<events::CertificateExpiring>(&event);
        c != nullptr && c->threshold_days.value <= 1) {
        return Severity::error;
    }
    return std::visit([](const auto& e) { return std::decay_t<decltype(e)>::kSeverity; }, event);
}

std::string describe_event(const Event& event) {
    std::string out;
    std::visit(
        [&](const auto& e) {
            e.fields([&](std::string_view name, const auto& value) {
                std::string text = text_of(value);
                if (text.empty()) return;
                if (!out.empty()) out += ' ';
                out.append(name);
                out += '=';
                out += text;
            });
        },
        event);
    return out;
}

std::string event_fields_json(const Event& event) {
    nlohmann::json j = nlohmann::json::object();
    std::visit(
        [&](const auto& e) {
            e.fields([&](std::string_view name, const auto& value) {
                j[std::string(name)] = json_of(value);
            });
        },
        event);
    return j.dump();
}

std::vector<EventTypeInfo> event_catalogue() {
    return catalogue_of(static_cast<Event*>(nullptr));
}

void LogEventSink::emit(const Event& event) noexcept {
    try {
        std::string line(event_name(event));
        const std::string fields = describe_event(event);
        if (!fields.empty()) {
            line += ' ';
            line += fields;
        }
        log(level_of(event_severity(event)), "event", line);
    } catch (...) {
        // bad_alloc: the log line is lost (the monitoring queue has the event).
    }
}

}  // namespace enclave::appliance
