// SPDX-License-Identifier: Apache-2.0
// THE INDEPENDENT CHECK (issue #4): our checkpoints against Go's
// golang.org/x/mod/sumdb/note, the reference signed-note implementation
// (Debian golang-golang-x-mod-dev, built offline from GOPATH with golang-go).
//
// A small Go program is written into a temp dir and built once per test; it
// verifies a note with note.NewVerifier + note.Open, signs one with
// note.GenerateKey + note.NewSigner + note.Sign, and formats a verifier key
// with note.NewEd25519VerifierKey. Our side signs with an Ed25519 key on a
// fresh SoftHSM token. A missing Go toolchain or x/mod FAILS the test with
// the Debian packages to install; it is never skipped.
#include <fcntl.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "audit/signed_note.hpp"
#include "crypto/encoding.hpp"
#include "hsm/keygen.hpp"
#include "support/paths.hpp"
#include "support/softhsm_token.hpp"

extern char** environ;

namespace enclave::audit {
namespace {

namespace fs = std::filesystem;
using crypto::Errc;

const char* const kInstall =
    "install the Debian packages golang-go and golang-golang-x-mod-dev (make deps)";
const fs::path kGoPath = "/usr/share/gocode";

const char* const kChecker = R"go(package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(code)
}

func main() {
	switch os.Args[1] {
	case "verify": // verify <vkey> <note file>: prints the verified text
		v, err := note.NewVerifier(os.Args[2])
		if err != nil {
			fail(3, err)
		}
		msg, err := os.ReadFile(os.Args[3])
		if err != nil {
			fail(2, err)
		}
		n, err := note.Open(msg, note.VerifierList(v))
		if err != nil {
			fail(1, err)
		}
		fmt.Print(n.Text)
	case "sign": // sign <name> <text file>: prints the verifier key line, then the note
		skey, vkey, err := note.GenerateKey(rand.Reader, os.Args[2])
		if err != nil {
			fail(2, err)
		}
		s, err := note.NewSigner(skey)
		if err != nil {
			fail(2, err)
		}
		text, err := os.ReadFile(os.Args[3])
		if err != nil {
			fail(2, err)
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, s)
		if err != nil {
			fail(2, err)
		}
		fmt.Printf("%s\n%s", vkey, msg)
	case "vkey": // vkey <name> <hex public key>: Go's verifier key string
		pub, err := hex.DecodeString(os.Args[3])
		if err != nil {
			fail(2, err)
		}
		k, err := note.NewEd25519VerifierKey(os.Args[2], pub)
		if err != nil {
			fail(2, err)
		}
		fmt.Print(k)
	default:
		fail(2, fmt.Errorf("unknown command"))
	}
}
)go";

struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void spit(const fs::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

// Runs argv with exactly `env` (nothing inherited), stdout and stderr to files.
RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
              const fs::path& dir) {
    const fs::path out = dir / "stdout", err = dir / "stderr";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    RunResult r;
    if (rc != 0) {
        r.err = "posix_spawn " + argv[0] + ": " + std::strerror(rc);
        return r;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

// $ENCLAVE_GO when set (nothing else is tried then), else the Debian locations.
std::string find_go() {
    if (const char* forced = std::getenv("ENCLAVE_GO")) {
        return access(forced, X_OK) == 0 ? std::string(forced) : std::string();
    }
    for (const char* dir : {"/usr/bin", "/usr/lib/go/bin", "/usr/local/go/bin"}) {
        const fs::path p = fs::path(dir) / "go";
        if (access(p.c_str(), X_OK) == 0) return p.string();
    }
    return {};
}

// Builds the checker once per test in `dir`; fails the test with the packages
// to install when Go or x/mod is missing.
class GoChecker {
public:
    explicit GoChecker(const fs::path& dir) : dir_(dir) {
        const std::string go = find_go();
        if (go.empty()) throw std::runtime_error(std::string("no `go` toolchain: ") + kInstall);
        if (!fs::exists(kGoPath / "src/golang.org/x/mod/sumdb/note/note.go")) {
            throw std::runtime_error("golang.org/x/mod/sumdb/note not under " + kGoPath.string() +
                                     ": " + kInstall);
        }
        fs::create_directories(dir_ / "src");
        spit(dir_ / "src" / "checker.go", kChecker);
        // Offline, GOPATH mode: Debian installs x/mod under /usr/share/gocode.
        env_ = {"PATH=" + fs::path(go).parent_path().string() + ":/usr/bin:/bin",
                "HOME=" + dir_.string(),
                "GO111MODULE=off",
                "GOPATH=" + kGoPath.string(),
                "GOCACHE=" + (dir_ / "gocache").string(),
                "GOPROXY=off",
                "GOFLAGS=",
                "CGO_ENABLED=0",
                "GOTOOLCHAIN=local"};
        const auto built = run({go, "build", "-o", (dir_ / "checker").string(),
                                (dir_ / "src" / "checker.go").string()},
                               env_, dir_);
        if (built.exit_code != 0) {
            throw std::runtime_error("go build of the checker failed (" + std::string(kInstall) +
                                     "): " + built.err);
        }
    }

    [[nodiscard]] RunResult verify(const std::string& vkey, const std::string& note) const {
        spit(dir_ / "note", note);
        return run({(dir_ / "checker").string(), "verify", vkey, (dir_ / "note").string()}, env_,
                   dir_);
    }
    [[nodiscard]] RunResult sign(const std::string& name, const std::string& text) const {
        spit(dir_ / "text", text);
        return run({(dir_ / "checker").string(), "sign", name, (dir_ / "text").string()}, env_,
                   dir_);
    }
    [[nodiscard]] RunResult vkey(const std::string& name, crypto::ByteView pub) const {
        return run({(dir_ / "checker").string(), "vkey", name, crypto::hex_encode(pub)}, env_,
                   dir_);
    }

private:
    fs::path dir_;
    std::vector<std::string> env_;
};

const std::string kOrigin = "enclave.example/audit";

// A checkpoint signed by our code with an Ed25519 key on a fresh SoftHSM token.
struct TokenNote {
    testing::SoftHsmToken token;
    std::optional<NoteVerifierKey> key;
    std::string body;
    std::string note;

    TokenNote() {
        auto ref = hsm::generate_ed25519_key_pair(*token.pool(), {"audit-note", {}});
        if (!ref) throw std::runtime_error(ref.error().message());
        auto signer = hsm::Signer::open(token.pool(), ref->query());
        if (!signer) throw std::runtime_error(signer.error().message());
        auto k = note_verifier_key(*token.pool(), *ref, kOrigin);
        if (!k) throw std::runtime_error(k.error().message());
        key = *k;
        crypto::Hash root{};
        for (std::size_t i = 0; i < root.size(); ++i) root[i] = static_cast<std::uint8_t>(i * 13 + 1);
        body = checkpoint_body({kOrigin, 123456, root, {}});
        auto signed_note = sign_note(body, kOrigin, *signer);
        if (!signed_note) throw std::runtime_error(signed_note.error().message());
        note = *signed_note;
    }
};

TEST(SignedNoteGoTest, GoVerifiesOurTokenSignedCheckpoint) {
    testing::TempDir dir;
    const GoChecker go(dir.path());
    const auto t = std::make_unique<TokenNote>();
    const auto r = go.verify(t->key->to_string(), t->note);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, t->body);
    // Go formats the same verifier key string from the raw public key.
    const auto k = go.vkey(kOrigin, t->key->public_key());
    EXPECT_EQ(k.exit_code, 0) << k.err;
    EXPECT_EQ(k.out, t->key->to_string());
}

TEST(SignedNoteGoTest, GoRejectsTamperedBodyAndSignature) {
    testing::TempDir dir;
    const GoChecker go(dir.path());
    const auto t = std::make_unique<TokenNote>();
    // Body: size 123456 -> 123457.
    std::string body_tampered = t->note;
    const std::size_t at = body_tampered.find("123456");
    ASSERT_NE(at, std::string::npos);
    body_tampered[at + 5] = '7';
    auto r = go.verify(t->key->to_string(), body_tampered);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.err.find("invalid signature"), std::string::npos) << r.err;
    // Signature: one bit of the Ed25519 signature (after the 4-byte key id).
    auto parsed = parse_note(t->note);
    ASSERT_TRUE(parsed);
    crypto::Bytes raw = {static_cast<std::uint8_t>(t->key->key_id() >> 24),
                         static_cast<std::uint8_t>(t->key->key_id() >> 16),
                         static_cast<std::uint8_t>(t->key->key_id() >> 8),
                         static_cast<std::uint8_t>(t->key->key_id())};
    crypto::Bytes sig = parsed->signatures[0].signature;
    sig[10] ^= 0x01;
    raw.insert(raw.end(), sig.begin(), sig.end());
    const std::string sig_tampered =
        t->body + "\n\xe2\x80\x94 " + kOrigin + " " + crypto::base64_encode(raw) + "\n";
    r = go.verify(t->key->to_string(), sig_tampered);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.err.find("invalid signature"), std::string::npos) << r.err;
    // Our verifier agrees on all three.
    EXPECT_TRUE(open_note(t->note, *t->key));
    EXPECT_EQ(open_note(body_tampered, *t->key).error().code(), Errc::integrity_failure);
    EXPECT_EQ(open_note(sig_tampered, *t->key).error().code(), Errc::integrity_failure);
}

TEST(SignedNoteGoTest, WeVerifyANoteSignedByGo) {
    testing::TempDir dir;
    const GoChecker go(dir.path());
    crypto::Hash root{};
    root.fill(0xab);
    const std::string body = checkpoint_body({"go.example/log", 77, root, {}});
    const auto r = go.sign("go.example/log", body);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::size_t nl = r.out.find('\n');
    ASSERT_NE(nl, std::string::npos);
    auto key = NoteVerifierKey::parse(r.out.substr(0, nl));
    ASSERT_TRUE(key) << key.error().message();
    const std::string note = r.out.substr(nl + 1);
    auto cp = open_checkpoint(note, *key);
    ASSERT_TRUE(cp) << cp.error().message();
    EXPECT_EQ(cp->origin, "go.example/log");
    EXPECT_EQ(cp->size, 77u);
    EXPECT_EQ(cp->root, root);
    // And a tampered copy of Go's note fails with us.
    std::string tampered = note;
    tampered[tampered.find("77")] = '8';
    EXPECT_EQ(open_note(tampered, *key).error().code(), Errc::integrity_failure);
}

}  // namespace
}  // namespace enclave::audit
