// SPDX-License-Identifier: Apache-2.0
// `enclavectl init`: check, set up the token, make the keys, the demo PKI and
// the config, in that order; undo everything this run created on failure.
#include "appliance/provision.hpp"
#include "archive/tsa.hpp"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "appliance/config.hpp"
#include "config_detail.hpp"
#include "hsm/keygen.hpp"
#include "hsm/pin.hpp"
#include "hsm/public_key.hpp"
#include "hsm/session_pool.hpp"
#include "hsm/token_admin.hpp"
#include "provision_detail.hpp"

namespace enclave::appliance {

namespace fs = std::filesystem;
using crypto::Errc;
using crypto::fail;
using crypto::Result;
using detail::Rollback;

namespace {

// Every name init creates directly under DIR (a DIR holding any of them is
// an instance, whole or interrupted).
constexpr const char* kInstanceEntries[] = {
    "enclave.toml",  "enclave.toml.tmp", "token.pin", "token.so-pin",
    "softhsm2.conf", "tokens",           "pki",       "run",
    "state"};

// The token and its sessions for the length of one run.
struct TokenHandle {
    std::shared_ptr<hsm::Module> module;
    std::shared_ptr<hsm::SessionPool> pool;
    hsm::TokenInfo token;
    std::string module_path;
    bool own_softhsm = false;
};

// Sets SOFTHSM2_CONF and puts the previous value back on destruction.
class SoftHsmEnv {
public:
    void set(const fs::path& conf) {
        if (!armed_) {
            if (const char* old = std::getenv("SOFTHSM2_CONF")) saved_ = std::string(old);
            armed_ = true;
        }
        ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);
    }
    ~SoftHsmEnv() {
        if (!armed_) return;
        if (saved_) {
            ::setenv("SOFTHSM2_CONF", saved_->c_str(), 1);
        } else {
            ::unsetenv("SOFTHSM2_CONF");
        }
    }

private:
    bool armed_ = false;
    std::optional<std::string> saved_;
};

Result<void> maybe_fail(const ProvisionOptions& o, ProvisionStep step, const char* name) {
    if (o.fail_after == step) {
        return fail(Errc::internal,
                    std::string("injected failure after step '") + name + "' (testing)");
    }
    return {};
}

// Refuses a DIR that is not new or empty, before anything is touched.
// Returns the mode of an existing DIR.
Result<std::optional<mode_t>> check_data_dir(const fs::path& dir) {
    const std::string sock = (dir / "run" / "admin.sock").string();
    if (sock.size() >= sizeof(sockaddr_un::sun_path)) {
        return fail(Errc::invalid_argument, "data directory path too long: " + sock +
                                                " would exceed "
                                                "the AF_UNIX limit of " +
                                                std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                                " bytes");
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        if (errno == ENOENT) return std::optional<mode_t>();
        return fail(Errc::io_error, "data directory " + dir.string() + ": " + std::strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return fail(Errc::already_exists, dir.string() + " exists and is not a directory");
    }
    if (st.st_uid != ::geteuid()) {
        return fail(Errc::invalid_argument,
                    "data directory " + dir.string() + " belongs to another user");
    }
    std::string ours;
    for (const char* name : kInstanceEntries) {
        std::error_code ec;
        if (fs::exists(fs::symlink_status(dir / name, ec))) {
            ours += std::string(ours.empty() ? "" : ", ") + name;
        }
    }
    if (fs::exists(dir / "enclave.toml")) {
        return fail(Errc::already_exists, dir.string() +
                                              " already holds an Enclave instance (found " + ours +
                                              "): init never overwrites one; nothing was changed");
    }
    if (!ours.empty()) {
        return fail(Errc::already_exists,
                    dir.string() +
                        " holds parts of an instance but no enclave.toml "
                        "(an interrupted init?): found " +
                        ours + "; remove the directory and run init again; nothing was changed");
    }
    std::error_code ec;
    if (!fs::is_empty(dir, ec) || ec) {
        return fail(Errc::already_exists, dir.string() +
                                              " is not empty: init needs a new or empty "
                                              "directory; nothing was changed");
    }
    return std::optional<mode_t>(st.st_mode & 07777);
}

// Refuses a token that already holds any of our labels (a second init, or
// another application's keys): generating next to them would be ambiguous.
Result<void> check_labels_free(hsm::SessionPool& pool) {
    std::vector<std::string_view> labels;
    for (const auto& spec : kTokenKeys) labels.push_back(spec.label);
    labels.push_back(archive::kTsaKeyLabel);
    for (const std::string_view label : labels) {
        for (auto type : {hsm::ObjectType::private_key, hsm::ObjectType::public_key,
                          hsm::ObjectType::secret_key}) {
            auto found =
                hsm::find_key(pool, hsm::KeyQuery::by_label(std::string(label), type));
            if (!found && found.error().code() == Errc::hsm_object_not_found) continue;
            if (!found && found.error().code() != Errc::invalid_argument) {
                return tl::unexpected(found.error());
            }
            return fail(Errc::already_exists, "token '" + pool.token().label +
                                                  "' already holds a key "
                                                  "labelled '" +
                                                  std::string(label) +
                                                  "' (provisioned before?); nothing was changed");
        }
    }
    return {};
}

Result<TokenHandle> open_existing_token(const ProvisionOptions& o) {
    if (o.pin_file.empty()) return fail(Errc::invalid_argument, "--pkcs11-uri needs --pin-file");
    if (o.token_label) {
        return fail(Errc::invalid_argument,
                    "a token label applies only to a new SoftHSM2 token, not with --pkcs11-uri");
    }
    auto uri = hsm::Uri::parse(o.pkcs11_uri);
    if (!uri) return tl::unexpected(uri.error().wrap("--pkcs11-uri"));
    if (uri->object || uri->id || uri->type) {
        return fail(Errc::invalid_argument, "--pkcs11-uri must name a token, not an object");
    }
    auto pin = hsm::read_pin_file(o.pin_file);
    if (!pin) return tl::unexpected(pin.error().wrap("--pin-file"));
    TokenHandle h;
    auto module = hsm::Module::load_for_uri(*uri);
    if (!module) return tl::unexpected(module.error());
    h.module = std::move(*module);
    auto token = h.module->find_token(*uri);
    if (!token) return tl::unexpected(token.error());
    h.token = std::move(*token);
    auto pool = hsm::SessionPool::open(h.module, h.token, std::move(*pin));
    if (!pool) {
        const auto code = pool.error().code();
        if (code == Errc::hsm_pin_incorrect || code == Errc::hsm_pin_locked) {
            return tl::unexpected(pool.error().wrap(
                "token '" + h.token.label + "' rejected the PIN from " + o.pin_file.string() +
                " (not retried: wrong PINs count towards the token's lock-out)"));
        }
        return tl::unexpected(pool.error());
    }
    h.pool = std::move(*pool);
    if (auto ok = check_labels_free(*h.pool); !ok) return tl::unexpected(ok.error());
    return h;
}

Result<void> write_softhsm_conf(const fs::path& dir, Rollback& rb) {
    const std::string conf =
        "# SoftHSM2 configuration of this Enclave instance (written by enclavectl init).\n"
        "# enclaved sets SOFTHSM2_CONF to this file before loading the module.\n"
        "directories.tokendir = " +
        (dir / "tokens").string() +
        "\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
        "slots.mechanisms = ALL\n"
        "library.reset_on_fork = true\n";
    if (auto ok = detail::write_new_file(dir / "softhsm2.conf", crypto::as_bytes(conf), 0600, rb);
        !ok)
        return ok;
    return detail::make_private_dir(dir / "tokens", rb);
}

// A new SoftHSM2 token under DIR with random PINs written to 0600 files.
Result<TokenHandle> create_softhsm_token(const fs::path& dir, const ProvisionOptions& o,
                                         const std::string& module_path, SoftHsmEnv& env,
                                         Rollback& rb) {
    if (auto ok = write_softhsm_conf(dir, rb); !ok) return tl::unexpected(ok.error());
    if (auto ok = maybe_fail(o, ProvisionStep::files, "files"); !ok) {
        return tl::unexpected(ok.error());
    }
    env.set(dir / "softhsm2.conf");  // before C_Initialize: SoftHSM reads it there
    TokenHandle h;
    h.own_softhsm = true;
    h.module_path = module_path;
    auto module = hsm::Module::load_path(module_path);
    if (!module) return tl::unexpected(module.error());
    h.module = std::move(*module);
    auto slot = h.module->free_slot();
    if (!slot) return tl::unexpected(slot.error());
    const crypto::Secret so_pin = hsm::generate_pin();
    crypto::Secret user_pin = hsm::generate_pin();
    const std::string label = o.token_label.value_or(std::string(kDefaultTokenLabel));
    auto token = hsm::initialize_token(h.module, *slot, label, so_pin, user_pin);
    if (!token) return tl::unexpected(token.error());
    h.token = std::move(*token);
    using NamedPin = std::pair<const char*, const crypto::Secret*>;
    for (const auto& [name, pin] :
         {NamedPin{"token.pin", &user_pin}, NamedPin{"token.so-pin", &so_pin}}) {
        const crypto::Secret content = detail::pin_file_content(*pin);
        if (auto ok = detail::write_new_file(dir / name, content.view(), 0600, rb); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    auto pool = hsm::SessionPool::open(h.module, h.token, std::move(user_pin));
    if (!pool) return tl::unexpected(pool.error());
    h.pool = std::move(*pool);
    return h;
}

Result<hsm::KeyRef> generate(hsm::SessionPool& pool, const TokenKeySpec& spec) {
    const hsm::KeySpec ks{std::string(spec.label), {}};
    switch (spec.type) {
        case hsm::KeyType::aes:
            return hsm::generate_aes_kek(pool, ks);
        case hsm::KeyType::ed25519:
            return hsm::generate_ed25519_key_pair(pool, ks);
        case hsm::KeyType::ec_p256:
            return hsm::generate_ec_key_pair(pool, hsm::EcCurve::p256, ks);
        case hsm::KeyType::ec_p384:
            return hsm::generate_ec_key_pair(pool, hsm::EcCurve::p384, ks);
        case hsm::KeyType::rsa:
            break;
    }
    return fail(Errc::internal, "no generator for key '" + std::string(spec.label) + "'");
}

// The token keys; returns the SPKIs of the four TLS keys. On an existing
// token every created key is recorded for the clean-up (a SoftHSM token
// under DIR goes with its directory).
Result<detail::TokenTlsKeys> make_token_keys(TokenHandle& h, Rollback& rb, ProvisionResult& out) {
    detail::TokenTlsKeys tls;
    for (const auto& spec : kTokenKeys) {
        auto key = generate(*h.pool, spec);
        if (!key) return tl::unexpected(key.error());
        if (!h.own_softhsm) rb.created_key(*key);
        out.keys.push_back({key->label, std::string(hsm::key_type_name(key->key_type)),
                            key->uri(h.token).to_string()});
        crypto::Bytes* slot = spec.label == "lea-tls"          ? &tls.lea
                              : spec.label == "ingest-tls"     ? &tls.ingest
                              : spec.label == "admin-tls"      ? &tls.admin
                              : spec.label == "lea-client-tls" ? &tls.lea_client
                                                               : nullptr;
        if (slot == nullptr) continue;
        auto spki = hsm::export_public_key_spki(*h.pool, *key);
        if (!spki) return tl::unexpected(spki.error());
        *slot = std::move(*spki);
    }
    return tls;
}

// The archive's time-stamping authority: its key on the token and its
// self-signed certificate DIR/tsa.crt (docs/archive.md, "The TSA key").
Result<void> make_tsa(const fs::path& dir, TokenHandle& h, Rollback& rb, ProvisionResult& out) {
    constexpr int kTsaCertificateDays = 20 * 366;
    auto der = archive::TimeStampAuthority::provision(*h.pool, "Enclave TSA", kTsaCertificateDays);
    if (!der) return tl::unexpected(der.error().wrap("the archive TSA"));
    auto key = hsm::find_key(*h.pool, hsm::KeyQuery::by_label(std::string(archive::kTsaKeyLabel),
                                                              hsm::ObjectType::private_key));
    if (!key) return tl::unexpected(key.error().wrap("the archive TSA"));
    if (!h.own_softhsm) rb.created_key(*key);  // destroyed with its public half on undo
    out.keys.push_back({key->label, std::string(hsm::key_type_name(key->key_type)),
                        key->uri(h.token).to_string()});
    return detail::publish_new_file(dir / "tsa.crt", *der, 0644, rb);
}

Config instance_config(const fs::path& dir, const TokenHandle& h, const ProvisionOptions& o) {
    Config c = default_config(dir);
    if (h.own_softhsm) {
        c.token.uri = h.token.uri().to_string();
        c.token.module_path = h.module_path;
    } else {
        auto uri = hsm::Uri::parse(o.pkcs11_uri);  // parsed before: cannot fail
        uri->pin_source.reset();
        c.token.uri = uri->to_string();
        c.token.pin_source =
            PinSource{PinSource::Kind::file, fs::absolute(o.pin_file).lexically_normal().string()};
    }
    return c;
}

Result<void> write_config(const fs::path& dir, const Config& c, Rollback& rb) {
    const std::string text = render_config(c);
    auto check = parse_config(text, dir);  // what we write must load as it is
    if (!check) return tl::unexpected(check.error().wrap("the generated config does not load"));
    if (!(*check == c)) {
        return fail(Errc::internal, "the generated config does not read back equal");
    }
    return detail::publish_new_file(dir / "enclave.toml", crypto::as_bytes(text), 0644, rb);
}

Result<void> run(const fs::path& dir, const ProvisionOptions& o, TokenHandle& h, Rollback& rb,
                 ProvisionResult& out) {
    auto tls = make_token_keys(h, rb, out);
    if (!tls) return tl::unexpected(tls.error());
    if (auto ok = make_tsa(dir, h, rb, out); !ok) return ok;
    if (auto ok = maybe_fail(o, ProvisionStep::keys, "keys"); !ok) return ok;
    if (auto ok = detail::build_demo_pki(dir / "pki", *tls, rb); !ok) return ok;
    if (auto ok = maybe_fail(o, ProvisionStep::pki, "pki"); !ok) return ok;
    for (const char* sub : {"run", "state"}) {
        if (auto ok = detail::make_private_dir(dir / sub, rb); !ok) return ok;
    }
    if (auto ok = write_config(dir, instance_config(dir, h, o), rb); !ok) return ok;
    detail::sync_dir(dir);
    return maybe_fail(o, ProvisionStep::config, "config");
}

std::vector<std::string> base_warnings(const fs::path& dir, bool own_softhsm) {
    std::vector<std::string> w;
    if (own_softhsm) {
        w.push_back(
            (dir / "token.so-pin").string() +
            " holds the token's security-officer PIN: move it "
            "offline (e.g. into a safe) and delete it here; it is needed only to reset the user "
            "PIN or re-initialise the token");
    }
    w.push_back("the certificates under " + (dir / "pki").string() +
                " come from a DEMO CA whose key is a "
                "file (demo-ca.key): for tests only, replace them before production use");
    return w;
}

// Option rules that need no file system; returns the SoftHSM2 module path
// ("" with an existing token).
Result<std::string> check_options(const ProvisionOptions& o) {
    if (o.pkcs11_uri.empty() && !o.pin_file.empty()) {
        return fail(Errc::invalid_argument,
                    "--pin-file needs --pkcs11-uri (a new SoftHSM2 token gets a new PIN)");
    }
    if (o.token_label && (o.token_label->empty() || o.token_label->size() > 32)) {
        return fail(Errc::invalid_argument, "the token label must be 1..32 bytes");
    }
    if (!o.pkcs11_uri.empty()) return std::string();
    std::string module_path = o.softhsm_module.empty() ? find_softhsm_module() : o.softhsm_module;
    if (module_path.empty()) {
        return fail(Errc::hsm_module,
                    "the SoftHSM2 PKCS#11 module (libsofthsm2.so) is missing: install "
                    "the Debian package softhsm2, or use --pkcs11-uri and --pin-file");
    }
    return module_path;
}

// Everything that changes the file system or the token, each change
// recorded in `rb`.
Result<void> create_instance(const fs::path& dir, const ProvisionOptions& o,
                             std::optional<mode_t> existing_mode, const std::string& module_path,
                             SoftHsmEnv& env, TokenHandle& h, Rollback& rb, ProvisionResult& out) {
    if (existing_mode) {
        rb.existing_dir_mode(*existing_mode);
        if (::chmod(dir.c_str(), 0700) != 0) return fail(Errc::io_error, "chmod " + dir.string());
    } else if (auto made = detail::make_private_dir(dir, rb); !made) {
        return made;
    }
    if (o.pkcs11_uri.empty()) {
        auto created = create_softhsm_token(dir, o, module_path, env, rb);
        if (!created) return tl::unexpected(created.error());
        h = std::move(*created);
        if (auto f = maybe_fail(o, ProvisionStep::token, "token"); !f) return f;
    }
    return run(dir, o, h, rb, out);
}

}  // namespace

std::string find_softhsm_module() {
    if (const char* env = std::getenv("ENCLAVE_SOFTHSM_MODULE"); env != nullptr && *env != '\0') {
        return env;
    }
    for (const char* p :
         {"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
          "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"}) {
        if (::access(p, R_OK) == 0) return p;
    }
    return {};
}

Result<ProvisionResult> provision_instance(const ProvisionOptions& o) {
    if (o.data_dir.empty()) return fail(Errc::invalid_argument, "a data directory is required");
    const fs::path dir = detail::normalise_data_dir(o.data_dir);
    auto existing_mode = check_data_dir(dir);
    if (!existing_mode) return tl::unexpected(existing_mode.error());
    auto module_path = check_options(o);
    if (!module_path) return tl::unexpected(module_path.error());
    SoftHsmEnv env;  // declared before the token: restored after the module is gone
    TokenHandle h;
    if (!o.pkcs11_uri.empty()) {  // everything about the token is checked before DIR is touched
        auto opened = open_existing_token(o);
        if (!opened) return tl::unexpected(opened.error());
        h = std::move(*opened);
    }
    Rollback rb(dir);
    ProvisionResult out;
    if (auto ok = create_instance(dir, o, *existing_mode, *module_path, env, h, rb, out); !ok) {
        auto left = rb.undo_keys(h.pool.get());
        h = TokenHandle{};  // release the module before its files go
        for (auto& l : rb.undo_files()) left.push_back(std::move(l));
        std::string note =
            left.empty() ? "; everything this run created was removed"
                         : "; could not remove, please remove by hand before running init again:";
        for (const auto& l : left) note += " " + l + ";";
        return tl::unexpected(crypto::Error(ok.error().code(), ok.error().context() + note));
    }
    out.data_dir = dir;
    out.config_file = dir / "enclave.toml";
    out.own_softhsm = h.own_softhsm;
    out.module_path = h.own_softhsm ? h.module_path : h.module->info().path;
    out.token = h.token;
    for (const auto& p : rb.relative_paths()) {
        std::error_code ec;
        if (fs::exists(fs::symlink_status(dir / p, ec))) out.created.push_back(p);
    }
    out.warnings = base_warnings(dir, h.own_softhsm);
    return out;
}

}  // namespace enclave::appliance
