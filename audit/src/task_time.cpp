// SPDX-License-Identifier: Apache-2.0
#include "audit/task_time.hpp"

#include <cstdio>

namespace enclave::audit {
namespace {

using namespace std::chrono;

/// Reads exactly `n` ASCII digits at `at`; -1 when any is not a digit.
int read_digits(std::string_view s, std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t k = 0; k < n; ++k) {
        const char c = s[at + k];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

crypto::Result<microseconds> read_fraction(std::string_view rest) {
    // rest is what follows the seconds: "Z" or ".d{1,6}Z".
    if (rest == "Z") return microseconds{0};
    if (rest.size() < 3 || rest.front() != '.' || rest.back() != 'Z') {
        return crypto::fail(crypto::Errc::invalid_argument,
                            "not RFC 3339 UTC: expected 'Z' or '.<1-6 digits>Z' after the seconds");
    }
    const std::string_view digits = rest.substr(1, rest.size() - 2);
    if (digits.size() > 6) {
        return crypto::fail(crypto::Errc::invalid_argument, "more than 6 fraction digits");
    }
    const int v = read_digits(digits, 0, digits.size());
    if (v < 0) return crypto::fail(crypto::Errc::invalid_argument, "fraction is not digits");
    int scale = 1;
    for (std::size_t k = digits.size(); k < 6; ++k) scale *= 10;
    return microseconds{static_cast<long long>(v) * scale};
}

}  // namespace

UtcTime system_now() { return time_point_cast<microseconds>(system_clock::now()); }

crypto::Result<UtcTime> parse_utc_time(std::string_view s) {
    using crypto::Errc;
    // YYYY-MM-DDTHH:MM:SS = 19 characters, then the zone part.
    if (s.size() < 20 || s.size() > 27) {
        return crypto::fail(Errc::invalid_argument, "not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)");
    }
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
        return crypto::fail(Errc::invalid_argument,
                            "not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ, uppercase T and Z)");
    }
    const int y = read_digits(s, 0, 4);
    const int mo = read_digits(s, 5, 2);
    const int d = read_digits(s, 8, 2);
    const int h = read_digits(s, 11, 2);
    const int mi = read_digits(s, 14, 2);
    const int se = read_digits(s, 17, 2);
    if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0) {
        return crypto::fail(Errc::invalid_argument, "not RFC 3339 UTC: a date or time part is not digits");
    }
    auto frac = read_fraction(s.substr(19));
    if (!frac) return tl::unexpected(frac.error());
    if (y < 1970) return crypto::fail(Errc::invalid_argument, "year before 1970");
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return crypto::fail(Errc::invalid_argument, "not a calendar date");
    if (h > 23 || mi > 59 || se > 59) {
        return crypto::fail(Errc::invalid_argument, "time of day out of range (no leap seconds)");
    }
    const auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{se};
    return UtcTime{time_point_cast<microseconds>(t) + *frac};
}

std::string format_utc_time(UtcTime t) {
    const auto day_point = floor<days>(t);
    const year_month_day ymd{day_point};
    const hh_mm_ss<microseconds> tod{t - day_point};
    char buf[40];
    const auto us = tod.subseconds().count();
    if (us == 0) {
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                      static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                      static_cast<int>(tod.seconds().count()));
    } else {
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                      static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                      static_cast<int>(tod.seconds().count()), static_cast<long long>(us));
    }
    return buf;
}

}  // namespace enclave::audit
