// SPDX-License-Identifier: Apache-2.0
// enclavectl archive ...: verify (offline: no daemon, no token) and export
// (offline with enclaved stopped: this process logs into the token itself,
// opens the archive without a TSA and reads one granted object).
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>

#include "appliance/admin_server.hpp"
#include "appliance/config.hpp"
#include "appliance/ctl.hpp"
#include "appliance/log.hpp"
#include "archive/archive_service.hpp"
#include "archive/evidence.hpp"
#include "archive/object_id.hpp"
#include "crypto/encoding.hpp"
#include "hsm/object.hpp"
#include "hsm/token_key_wrapper.hpp"
#include "token_login.hpp"

namespace enclave::appliance::ctl {

using crypto::Bytes;
using crypto::Errc;
using crypto::fail;
using crypto::Result;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxCertificateBytes = 64 * 1024;
const std::vector<crypto::HashAlg> kEvidenceAlgs = {crypto::HashAlg::sha256,
                                                    crypto::HashAlg::sha384,
                                                    crypto::HashAlg::sha512};

/// A regular file, read whole; too_large over `max` bytes.
/// Reads a regular file in 64 KiB chunks, passing each to `take` (which may
/// stop the read with an error).
Result<void> read_chunks(const std::filesystem::path& path,
                         const std::function<Result<void>(crypto::ByteView)>& take) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Errc::io_error, "cannot read " + path.string() + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail(Errc::invalid_argument, path.string() + " is not a regular file");
    }
    std::uint8_t buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            return fail(Errc::io_error, "reading " + path.string() + ": " + std::strerror(e));
        }
        if (n == 0) break;
        if (auto r = take(crypto::ByteView(buf, static_cast<std::size_t>(n))); !r) {
            ::close(fd);
            return r;
        }
    }
    ::close(fd);
    return {};
}

Result<Bytes> read_bytes(const std::filesystem::path& path, std::size_t max) {
    Bytes out;
    auto read = read_chunks(path, [&](crypto::ByteView chunk) -> Result<void> {
        out.insert(out.end(), chunk.begin(), chunk.end());
        if (out.size() > max) {
            return fail(Errc::too_large, path.string() + ": over " + std::to_string(max) + " bytes");
        }
        return {};
    });
    if (!read) return tl::unexpected(read.error());
    return out;
}

/// The data's digests under every algorithm an evidence record may use, in
/// one pass over the file (the data may be larger than memory allows).
Result<std::map<crypto::HashAlg, Bytes>> file_digests(const std::filesystem::path& path) {
    std::vector<crypto::Hasher> hashers;
    for (auto alg : kEvidenceAlgs) hashers.emplace_back(alg);
    auto read = read_chunks(path, [&](crypto::ByteView chunk) -> Result<void> {
        for (auto& h : hashers) h.update(chunk);
        return {};
    });
    if (!read) return tl::unexpected(read.error());
    std::map<crypto::HashAlg, Bytes> out;
    for (std::size_t i = 0; i < hashers.size(); ++i) out[kEvidenceAlgs[i]] = hashers[i].finish();
    return out;
}

/// A certificate file, DER or PEM, returned as DER (checked to parse).
Result<Bytes> load_certificate(const std::filesystem::path& path) {
    auto raw = read_bytes(path, kMaxCertificateBytes);
    if (!raw) return tl::unexpected(raw.error().wrap("the TSA certificate"));
    X509* cert = nullptr;
    static constexpr std::string_view kPem = "-----BEGIN";
    if (raw->size() >= kPem.size() && std::equal(kPem.begin(), kPem.end(), raw->begin())) {
        BIO* bio = BIO_new_mem_buf(raw->data(), static_cast<int>(raw->size()));
        if (bio != nullptr) cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
        BIO_free(bio);
    } else {
        const unsigned char* p = raw->data();
        cert = d2i_X509(nullptr, &p, static_cast<long>(raw->size()));
        if (cert != nullptr && p != raw->data() + raw->size()) {
            X509_free(cert);
            cert = nullptr;
        }
    }
    if (cert == nullptr) return fail(Errc::malformed_input, path.string() + " is not an X.509 certificate (DER or PEM)");
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert, &der);
    X509_free(cert);
    if (len <= 0) return fail(Errc::malformed_input, path.string() + ": cannot encode the certificate");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

std::string utc(std::int64_t seconds) {
    if (seconds <= 0) return {};
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string utc(std::chrono::sys_seconds t) { return utc(t.time_since_epoch().count()); }

/// The instance's config file, or not_found.
Result<Config> instance_config(const Globals& g) {
    const std::filesystem::path dir = data_dir_of(g);
    const std::filesystem::path file =
        g.config.empty() ? dir / "enclave.toml" : std::filesystem::path(g.config);
    return load_config(file, dir);
}

/// --tsa-cert, else the instance's TSA certificate when an instance is named.
Result<std::filesystem::path> tsa_certificate_path(const Globals& g, const std::string& given) {
    if (!given.empty()) return std::filesystem::path(given);
    const char* env = std::getenv("ENCLAVE_DATA_DIR");
    if (g.data_dir.empty() && (env == nullptr || *env == '\0')) {
        return fail(Errc::invalid_argument,
                    "--tsa-cert is required when neither --data-dir nor ENCLAVE_DATA_DIR names "
                    "an instance");
    }
    auto cfg = instance_config(g);
    if (cfg) return cfg->resolve(cfg->archive.tsa_certificate);
    if (cfg.error().code() == Errc::not_found) return data_dir_of(g) / "tsa.crt";
    return tl::unexpected(cfg.error());
}

json evidence_json(const archive::EvidenceCheck& c, const std::map<crypto::HashAlg, Bytes>& digests) {
    return {{"existed_since", utc(c.first_stamp)},
            {"last_stamp", utc(c.last_stamp)},
            {"chains", c.chains},
            {"stamps", c.stamps},
            {"digest_algorithm", std::string(crypto::hash_name(c.current_alg))},
            {"digest", crypto::hex_encode(digests.at(c.current_alg))}};
}

Result<archive::EvidenceCheck> check_record(crypto::ByteView record,
                                            const std::map<crypto::HashAlg, Bytes>& digests,
                                            const Bytes& tsa_cert) {
    return archive::verify_evidence_record(
        record,
        [&digests](crypto::HashAlg alg) {
            const auto it = digests.find(alg);
            return it == digests.end() ? Bytes{} : it->second;
        },
        {tsa_cert});
}

void print_proof(const json& e) {
    std::cout << "  existed unchanged since " << e.value("existed_since", "?")
              << " (first time stamp)\n  last time stamp " << e.value("last_stamp", "?")
              << "\n  " << e.value("chains", 0) << " chain(s), " << e.value("stamps", 0)
              << " time stamp(s)\n  " << e.value("digest_algorithm", "?") << " "
              << e.value("digest", "?") << "\n";
}

}  // namespace

int archive_verify(const Globals& g, const std::string& data, const std::string& evidence,
                   const std::string& tsa_cert) {
    auto cert_path = tsa_certificate_path(g, tsa_cert);
    if (!cert_path) return report_error(g, cert_path.error());
    auto cert = load_certificate(*cert_path);
    if (!cert) return report_error(g, cert.error());
    auto record = read_bytes(evidence, archive::EvidenceLimits{}.max_bytes);
    if (!record) return report_error(g, record.error().wrap("the evidence record"));
    auto digests = file_digests(data);
    if (!digests) return report_error(g, digests.error().wrap("the data"));
    auto check = check_record(*record, *digests, *cert);
    if (!check) {
        return report_error(g, crypto::errc_name(check.error().code()),
                            "the evidence record does not verify for this data and TSA "
                            "certificate: " + check.error().context(),
                            kExitMismatch);
    }
    json out{{"verified", true},
             {"data", data},
             {"evidence_record", evidence},
             {"tsa_certificate", cert_path->string()},
             {"tsa_certificate_sha256",
              crypto::hex_encode(crypto::digest(crypto::HashAlg::sha256, *cert))},
             {"evidence", evidence_json(*check, *digests)}};
    if (g.json) {
        std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
        return kExitOk;
    }
    std::cout << "verified: " << printable(evidence) << " proves that " << printable(data) << "\n";
    print_proof(out["evidence"]);
    std::cout << "  TSA certificate " << printable(cert_path->string()) << " (SHA-256 "
              << out["tsa_certificate_sha256"].get<std::string>() << ")\n";
    return kExitOk;
}

namespace {

constexpr std::string_view kStopDaemon =
    "enclaved is running for this instance: stop it first (systemctl stop enclaved), or "
    "export through the running daemon with LTAP EXPORT over the admin API "
    "(POST /v1/archive/ltap)";

/// One file to write, never over an existing one.
struct OutFile {
    std::filesystem::path path;
    Bytes content;
    mode_t mode;
    bool keep_if_same = false;  ///< an identical existing file is fine (tsa.crt)
    bool written = false;
};

Result<void> write_new_file(OutFile& f) {
    const int fd = ::open(f.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, f.mode);
    if (fd < 0) {
        if (errno == EEXIST) return fail(Errc::already_exists, f.path.string() + " exists: not overwritten");
        return fail(Errc::io_error, "creating " + f.path.string() + ": " + std::strerror(errno));
    }
    f.written = true;
    bool ok = ::fchmod(fd, f.mode) == 0;
    for (std::size_t done = 0; ok && done < f.content.size();) {
        const ssize_t n = ::write(fd, f.content.data() + done, f.content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    const int e = errno;
    ok = (::close(fd) == 0) && ok;
    if (!ok) return fail(Errc::io_error, "writing " + f.path.string() + ": " + std::strerror(e));
    return {};
}

/// Checks every target first (nothing is written when one exists), then
/// writes them; on a failure removes what this call wrote.
Result<void> write_all(std::vector<OutFile>& files, const std::filesystem::path& dir) {
    for (auto& f : files) {
        std::error_code ec;
        if (std::filesystem::symlink_status(f.path, ec).type() == std::filesystem::file_type::not_found) {
            continue;
        }
        auto existing = f.keep_if_same ? read_bytes(f.path, kMaxCertificateBytes) : Result<Bytes>();
        if (f.keep_if_same && existing && *existing == f.content) {
            f.content.clear();
            f.keep_if_same = false;
            f.mode = 0;  // marks "already there"
            continue;
        }
        return fail(Errc::already_exists, f.path.string() + " exists: not overwritten");
    }
    for (auto& f : files) {
        if (f.mode == 0) continue;
        if (auto r = write_new_file(f); !r) {
            for (auto& w : files) {
                if (w.written) ::unlink(w.path.c_str());
            }
            return r;
        }
    }
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

/// --out: an existing folder, or a new one (0700).
Result<std::filesystem::path> out_folder(const std::string& out) {
    std::error_code ec;
    const std::filesystem::path dir(out);
    const auto st = std::filesystem::status(dir, ec);
    if (st.type() == std::filesystem::file_type::directory) return dir;
    if (st.type() != std::filesystem::file_type::not_found) {
        return fail(Errc::invalid_argument, "--out " + out + " exists and is not a folder");
    }
    if (::mkdir(dir.c_str(), 0700) != 0) {
        return fail(Errc::io_error, "creating " + out + ": " + std::strerror(errno));
    }
    return dir;
}

struct OfflineObject {
    archive::ObjectSummary summary;
    archive::ArchiveService::Exported object;
};

Result<OfflineObject> read_with_archive(archive::ArchiveService& svc, const std::string& ref) {
    auto summary = svc.summary(ref);
    if (!summary) {
        if (summary.error().code() == Errc::not_found) {
            return fail(Errc::not_found, "no object " + ref + " in this instance's archive");
        }
        return tl::unexpected(summary.error());
    }
    if (summary->state == "pending") {
        return fail(Errc::invalid_state, ref + " is pending: it has no evidence record yet (start "
                                               "enclaved and let it seal, or POST /v1/archive/seal)");
    }
    if (summary->state != "granted") {
        return fail(Errc::invalid_state, ref + " is " + summary->state + " (" + utc(summary->deleted) +
                                             "): its data and evidence record are gone");
    }
    auto exported = svc.export_object(ref);
    if (!exported) return tl::unexpected(exported.error());
    return OfflineObject{std::move(*summary), std::move(*exported)};
}

/// Logs into the token, opens the KEK and the archive (no TSA), reads `ref`.
/// Everything token-side is closed again before this returns.
Result<OfflineObject> read_offline(const Config& cfg, const std::string& ref) {
    auto pool = open_token_session(cfg, nullptr);
    if (!pool) return fail(Errc::unavailable, "the token: " + pool.error().message);
    auto kek = hsm::TokenKeyWrapper::open(
        *pool, hsm::KeyQuery::by_label("kek", hsm::ObjectType::secret_key));
    if (!kek) return tl::unexpected(kek.error().wrap("the KEK (token label 'kek')"));
    archive::ArchiveOptions o;
    o.db_path = cfg.data_dir / "state" / "archive.db";
    o.blob_dir = cfg.data_dir / "state" / "archive-blobs";
    auto svc = archive::ArchiveService::open(std::move(o), **kek, nullptr);
    if (!svc) {
        // The blob store's flock: another process (enclaved) has it open.
        if (svc.error().code() == Errc::unavailable) return fail(Errc::unavailable, std::string(kStopDaemon));
        return tl::unexpected(svc.error().wrap("opening the archive"));
    }
    return read_with_archive(**svc, ref);
}

/// The instance, checked to be stopped and to have an archive.
Result<Config> stopped_instance(const Globals& g) {
    auto cfg = instance_config(g);
    if (!cfg) {
        if (cfg.error().code() != Errc::not_found) return tl::unexpected(cfg.error());
        return fail(Errc::not_found, "no instance in " + data_dir_of(g).string() +
                                         " (no enclave.toml): give --data-dir");
    }
    if (!check_admin_socket_free(cfg->resolve(cfg->admin.socket))) {
        return fail(Errc::unavailable, std::string(kStopDaemon));
    }
    std::error_code ec;
    if (!std::filesystem::exists(cfg->data_dir / "state" / "archive.db", ec)) {
        return fail(Errc::not_found, "this instance has no archive (" +
                                         (cfg->data_dir / "state" / "archive.db").string() +
                                         " does not exist)");
    }
    return cfg;
}

json export_json(const OfflineObject& o, const std::string& name, const json& proof) {
    json meta = json::array();
    for (const auto& m : o.object.metadata) meta.push_back({{"name", m.name}, {"value", m.value}});
    const auto& s = o.summary;
    return {{"reference", s.reference},
            {"owner", s.owner},
            {"state", s.state},
            {"size", s.size},
            {"created", utc(s.created)},
            {"granted", utc(s.granted)},
            {"expires", utc(s.expires)},
            {"metadata", meta},
            {"evidence", proof},
            {"files", {{"data", name + ".data"}, {"evidence_record", name + ".ers"},
                       {"tsa_certificate", "tsa.crt"}}}};
}

std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

}  // namespace

int archive_export(const Globals& g, const std::string& reference, const std::string& out_dir) {
    if (!archive::object_reference_ok(reference)) {
        return report_error(g, "invalid_argument",
                            "--object: not an object reference (" +
                                std::string(archive::kObjectReferencePrefix) +
                                "<26 characters>-<2 check digits>), or its check digits do not match",
                            kExitUsage);
    }
    std::error_code ec;
    if (const auto t = std::filesystem::status(out_dir, ec).type();
        t != std::filesystem::file_type::not_found && t != std::filesystem::file_type::directory) {
        return report_error(g, "invalid_argument", "--out " + out_dir + " exists and is not a folder",
                            kExitUsage);
    }
    auto cfg = stopped_instance(g);
    if (!cfg) return report_error(g, cfg.error());
    const auto cert_path = cfg->resolve(cfg->archive.tsa_certificate);
    auto cert = load_certificate(cert_path);
    if (!cert) return report_error(g, cert.error());
    set_log_level(LogLevel::warning);  // stderr stays for problems
    auto object = read_offline(*cfg, reference);
    if (!object) return report_error(g, object.error());
    // Self-check before anything is written: the record proves the data.
    std::map<crypto::HashAlg, Bytes> digests;
    for (auto alg : kEvidenceAlgs) digests[alg] = crypto::digest(alg, object->object.data);
    auto check = check_record(object->object.evidence_record, digests, *cert);
    if (!check) {
        return report_error(g, crypto::errc_name(check.error().code()),
                            "the archive's evidence record for " + reference +
                                " does not verify against " + cert_path.string() + ": " +
                                check.error().context());
    }
    auto dir = out_folder(out_dir);
    if (!dir) return report_error(g, dir.error());
    const std::string name(reference.substr(archive::kObjectReferencePrefix.size()));
    const json meta = export_json(*object, name, evidence_json(*check, digests));
    const std::string meta_text = dump(meta) + "\n";
    std::vector<OutFile> files{
        {*dir / (name + ".data"), std::move(object->object.data), 0600},
        {*dir / (name + ".ers"), object->object.evidence_record, 0644},
        {*dir / "tsa.crt", *cert, 0644, true},
        {*dir / (name + ".json"), Bytes(meta_text.begin(), meta_text.end()), 0600}};
    if (auto w = write_all(files, *dir); !w) return report_error(g, w.error());
    json out{{"exported", meta}, {"out", dir->string()}};
    if (g.json) {
        std::cout << dump(out) << "\n";
        return kExitOk;
    }
    std::cout << "exported " << reference << " (" << object->summary.size << " bytes, owner "
              << printable(object->summary.owner) << ") to " << printable(dir->string()) << ":\n  "
              << name << ".data (0600), " << name << ".ers, " << name << ".json, tsa.crt\n";
    print_proof(meta["evidence"]);
    std::cout << "verify with: enclavectl archive verify --data " << printable((*dir / name).string())
              << ".data --evidence " << printable((*dir / name).string()) << ".ers --tsa-cert "
              << printable((*dir / "tsa.crt").string()) << "\n";
    return kExitOk;
}

}  // namespace enclave::appliance::ctl
