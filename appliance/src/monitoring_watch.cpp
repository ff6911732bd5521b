// SPDX-License-Identifier: Apache-2.0
// Account behaviour monitoring (monitoring_impl.hpp, AccountWatch) and the
// working-hours setting it uses.
#include <array>
#include <charconv>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "appliance/http_types.hpp"
#include "appliance/log.hpp"
#include "monitoring_impl.hpp"

namespace enclave::appliance {
namespace {

using crypto::Errc;
using crypto::fail;

constexpr std::array<std::string_view, 7> kDays = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr auto kHour = std::chrono::hours(1);
constexpr std::size_t kMaxAccounts = 10'000;  // a bound on the persisted list

std::optional<int> parse_hhmm(std::string_view t) {
    if (t.size() != 5 || t[2] != ':') return std::nullopt;
    int h = 0;
    int m = 0;
    if (std::from_chars(t.data(), t.data() + 2, h).ptr != t.data() + 2 ||
        std::from_chars(t.data() + 3, t.data() + 5, m).ptr != t.data() + 5) {
        return std::nullopt;
    }
    if (h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
    return h * 60 + m;
}

std::optional<int> day_index(std::string_view d) {
    for (std::size_t i = 0; i < kDays.size(); ++i) {
        if (kDays[i] == d) return static_cast<int>(i);
    }
    return std::nullopt;
}

std::optional<std::uint8_t> parse_days(std::string_view text) {
    std::uint8_t mask = 0;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        const auto dash = item.find('-');
        const auto from = day_index(item.substr(0, dash));
        const auto to = dash == std::string_view::npos ? from : day_index(item.substr(dash + 1));
        if (!from || !to) return std::nullopt;
        for (int d = *from;; d = (d + 1) % 7) {
            mask |= static_cast<std::uint8_t>(1U << d);
            if (d == *to) break;
        }
        if (comma != std::string_view::npos && text.empty()) return std::nullopt;
    }
    return mask == 0 ? std::nullopt : std::optional<std::uint8_t>(mask);
}

std::string_view action_of(std::string_view route) {
    if (route == "/v1/task/reveal") return "reveal";
    if (route == "/v1/audit/reverify") return "reverify";
    return {};
}

}  // namespace

bool WorkingTime::contains(std::chrono::system_clock::time_point t) const noexcept {
    if (!enabled) return true;
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    const int day = (tm.tm_wday + 6) % 7;  // tm_wday: 0 = Sunday
    const int minute = tm.tm_hour * 60 + tm.tm_min;
    if (start_minute <= end_minute) {
        return (days & (1U << day)) != 0 && minute >= start_minute && minute < end_minute;
    }
    // Spans midnight: the part after midnight belongs to the previous day.
    if (minute >= start_minute) return (days & (1U << day)) != 0;
    if (minute < end_minute) return (days & (1U << ((day + 6) % 7))) != 0;
    return false;
}

crypto::Result<WorkingTime> parse_working_time(std::string_view hours, std::string_view days) {
    WorkingTime w;
    const auto mask = parse_days(days);
    if (!mask) return fail(Errc::invalid_argument, "monitoring.working_days: must be days mon..sun as \"mon-fri\" or \"mon,wed,fri\"");
    w.days = *mask;
    if (hours.empty()) return w;
    const auto dash = hours.find('-');
    const auto start = dash == std::string_view::npos ? std::nullopt : parse_hhmm(hours.substr(0, dash));
    const auto end = dash == std::string_view::npos ? std::nullopt : parse_hhmm(hours.substr(dash + 1));
    if (!start || !end || *start == *end) {
        return fail(Errc::invalid_argument, "monitoring.working_hours: must be \"HH:MM-HH:MM\" (UTC, start != end) or \"\"");
    }
    w.enabled = true;
    w.start_minute = *start;
    w.end_minute = *end;
    return w;
}

void AccountWatch::configure(WorkingTime time, std::uint32_t max_reveals,
                             std::uint32_t max_reverifies) {
    std::lock_guard lock(mu_);
    time_ = time;
    max_reveals_ = max_reveals;
    max_reverifies_ = max_reverifies;
}

void AccountWatch::load(std::filesystem::path file) {
    std::lock_guard lock(mu_);
    file_ = std::move(file);
    std::ifstream in(file_);
    if (!in) return;
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) {
        log(LogLevel::warning, "monitoring", "the known-accounts file is unreadable: starting afresh");
        return;
    }
    for (const auto& [account, bits] : j.items()) {
        if (bits.is_number_unsigned() && known_.size() < kMaxAccounts) {
            known_[account] = static_cast<std::uint8_t>(bits.get<unsigned>() & 7U);
        }
    }
}

void AccountWatch::save_locked() {
    if (file_.empty()) return;
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [account, bits] : known_) j[account] = bits;
    if (auto ok = replace_file(file_, j.dump() + "\n"); !ok) {
        log(LogLevel::error, "monitoring", "saving the known accounts: " + ok.error().message());
    }
}

std::vector<Event> AccountWatch::observe(const AdminAct& act,
                                         std::chrono::system_clock::time_point now) {
    std::vector<Event> out;
    const std::string key = act.account.str();
    std::lock_guard lock(mu_);
    const auto it = known_.find(key);
    if (it == known_.end()) {
        if (known_.size() < kMaxAccounts) {
            known_[key] = act.role_bits;
            save_locked();
        }
        out.emplace_back(events::AccountCreated{act.account, act.roles});
    } else if (it->second != act.role_bits) {
        for (const Role r : {Role::security_officer, Role::auditor, Role::operator_}) {
            const auto bit = static_cast<std::uint8_t>(r);
            const bool had = (it->second & bit) != 0;
            const bool has = (act.role_bits & bit) != 0;
            if (has && !had) out.emplace_back(events::PrivilegeGranted{act.account, role_name(r)});
            if (had && !has) out.emplace_back(events::PrivilegeRevoked{act.account, role_name(r)});
        }
        it->second = act.role_bits;
        save_locked();
    }
    if (!time_.contains(now)) {
        auto& last = last_warned_["hours " + key];
        if (now - last >= kHour) {
            last = now;
            out.emplace_back(events::AccessOutsideHours{act.account, act.route});
        }
    }
    const std::string_view action = action_of(act.route.str());
    const std::uint32_t limit = action == "reveal" ? max_reveals_ : max_reverifies_;
    if (!action.empty() && limit > 0) {
        const std::string akey = std::string(action) + ' ' + key;
        auto& times = acts_[akey];
        times.push_back(now);
        while (!times.empty() && now - times.front() >= kHour) times.pop_front();
        auto& last = last_warned_[akey];
        if (times.size() > limit && now - last >= kHour) {
            last = now;
            out.emplace_back(events::UnusualVolume{act.account, action, times.size()});
        }
    }
    return out;
}

}  // namespace enclave::appliance
