// SPDX-License-Identifier: Apache-2.0
#include "support/softhsm_token.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "hsm/pin.hpp"
#include "hsm/token_admin.hpp"

namespace enclave::testing {
namespace {

[[noreturn]] void die(const std::string& what) {
    throw std::runtime_error("SoftHsmToken: " + what);
}

void write_pin_file(const std::filesystem::path& path, const crypto::Secret& pin) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) die("cannot create " + path.string());
    const bool ok = ::write(fd, pin.data(), pin.size()) == static_cast<ssize_t>(pin.size()) &&
                    ::write(fd, "\n", 1) == 1;
    ::close(fd);
    if (!ok) die("cannot write " + path.string());
}

void write_config(const std::filesystem::path& dir, bool reset_on_fork,
                  const std::string& backend) {
    std::filesystem::create_directory(dir / "tokens");
    std::ofstream conf(dir / "softhsm2.conf");
    conf << "# Written by the Enclave test fixture\n"
         << "directories.tokendir = " << (dir / "tokens").string() << "\n"
         << "objectstore.backend = " << backend << "\n"
         << "log.level = ERROR\n"
         << "slots.removable = false\n"
         << "slots.mechanisms = ALL\n"
         << "library.reset_on_fork = " << (reset_on_fork ? "true" : "false") << "\n";
    if (!conf) die("cannot write softhsm2.conf in " + dir.string());
}

}  // namespace

std::string softhsm_module_path() {
    if (const char* env = std::getenv("ENCLAVE_SOFTHSM_MODULE"); env != nullptr && *env != '\0') {
        return env;
    }
    for (const char* p : {"/usr/lib/softhsm/libsofthsm2.so",
                          "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                          "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"}) {
        if (::access(p, R_OK) == 0) return p;
    }
    return {};
}

SoftHsmToken::SoftHsmToken() : SoftHsmToken(Options{}) {}

SoftHsmToken::SoftHsmToken(Options options) : options_(std::move(options)) {
    module_path_ = softhsm_module_path();
    if (module_path_.empty()) {
        die("the SoftHSM2 PKCS#11 module (libsofthsm2.so) is missing: install the Debian "
            "package softhsm2");
    }
    write_config(dir_.path(), options_.reset_on_fork, options_.backend);
    // Before C_Initialize: SoftHSM reads its configuration there.
    ::setenv("SOFTHSM2_CONF", (dir_.path() / "softhsm2.conf").c_str(), 1);

    auto module = hsm::Module::load_path(module_path_);
    if (!module) die(module.error().message());
    module_ = std::move(*module);
    auto slot = module_->free_slot();
    if (!slot) die(slot.error().message());
    so_pin_ = hsm::generate_pin();
    user_pin_ = hsm::generate_pin();
    auto token = hsm::initialize_token(module_, *slot, options_.label, so_pin_, user_pin_);
    if (!token) die(token.error().message());
    token_ = std::move(*token);

    pin_file_ = dir_.path() / "user.pin";
    write_pin_file(pin_file_, user_pin_);
    if (!options_.open_pool) return;
    auto pin = hsm::read_pin_file(pin_file_);
    if (!pin) die(pin.error().message());
    auto pool = hsm::SessionPool::open(module_, token_, std::move(*pin), options_.pool);
    if (!pool) die(pool.error().message());
    pool_ = std::move(*pool);
}

SoftHsmToken::~SoftHsmToken() { release_module(); }

void SoftHsmToken::release_module() {
    pool_.reset();
    module_.reset();
}

std::string SoftHsmToken::uri() const {
    hsm::Uri u;
    u.token = options_.label;
    u.module_path = module_path_;
    return u.to_string();
}

}  // namespace enclave::testing
