// SPDX-License-Identifier: Apache-2.0
// enclave-lea-sim: a simulated LEA endpoint (see simulator/lea_simulator.hpp
// and docs/lea-simulator.md).
//
//   enclave-lea-sim --listen 127.0.0.1:0 --cert sim.pem --key sim.key
//       --ca collectors-ca.pem --store /tmp/lea --port-file /tmp/lea/port
//       [--fetch-cert lea-client.pem --fetch-key lea-client.key
//        --fetch-ca appliance-ca.pem [--fetch-range-bytes N] [--fetch-threads N]]
//
// The --fetch-* flags turn on Model A/C fetching (simulator/binary_fetcher.hpp);
// the first three go together.
//
// Runs until SIGINT or SIGTERM. Exit status: 0 after a signal, 2 for bad
// arguments, 1 when it cannot start.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "simulator/hi1_hooks.hpp"
#include "simulator/lea_simulator.hpp"

namespace {

using enclave::simulator::LeaSimulator;
using enclave::simulator::LeaSimulatorOptions;

bool split_listen(const std::string& listen, std::string& address, std::uint16_t& port) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon + 1 >= listen.size()) return false;
    address = listen.substr(0, colon);
    if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
        address = address.substr(1, address.size() - 2);
    }
    const std::string p = listen.substr(colon + 1);
    if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
    const unsigned long v = std::stoul(p);
    if (v > 65535) return false;
    port = static_cast<std::uint16_t>(v);
    return !address.empty();
}

/// Written to a temporary name and renamed, so a reader never sees half a number.
bool write_port_file(const std::filesystem::path& path, std::uint16_t port) {
    const std::filesystem::path tmp = path.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << port << '\n';
        if (!out.flush()) return false;
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    return !ec;
}

}  // namespace

int main(int argc, char** argv) {
    LeaSimulatorOptions options;
    std::string listen = "127.0.0.1:0";
    std::string key;
    std::string fault_json;
    std::filesystem::path port_file;
    CLI::App app{"enclave-lea-sim: a simulated LEA endpoint (TS 103 707 Model B, mutual TLS)"};
    app.add_option("--listen", listen, "ADDR:PORT (port 0: any free port)");
    app.add_option("--cert", options.tls.certificate, "server certificate chain (PEM)")->required();
    app.add_option("--key", key, "server private key (PEM file)")->required();
    app.add_option("--ca", options.tls.trust_anchors, "client trust anchors (PEM)")->required();
    app.add_option("--crl", options.tls.crl, "CRL for client certificates (PEM)");
    app.add_option("--store", options.store, "directory for what is received")->required();
    app.add_option("--port-file", port_file, "write the bound port here");
    app.add_option("--delivery-path", options.delivery_path, "POST path for DeliveryObjects");
    app.add_option("--threads", options.threads, "I/O threads");
    app.add_option("--max-xml-bytes", options.max_xml_bytes, "largest DeliveryObject message");
    app.add_option("--max-binary-bytes", options.max_binary_bytes, "largest binary");
    app.add_option("--fault", fault_json, "initial fault, the /control/fault JSON form");
    std::filesystem::path psk_file;
    app.add_option("--psk-file", psk_file, "also accept TLS PSK clients: lines IDENTITY HEXKEY");
    enclave::simulator::BinaryFetcherOptions fetch;
    app.add_option("--fetch-cert", fetch.certificate,
                   "Model A/C: client certificate for fetching binaries (PEM)");
    app.add_option("--fetch-key", fetch.private_key, "Model A/C: its private key (PEM file)");
    app.add_option("--fetch-ca", fetch.trust_anchors,
                   "Model A/C: trust anchors for the appliance's server certificate (PEM)");
    app.add_option("--fetch-crl", fetch.crl, "Model A/C: CRL for the appliance's certificate");
    app.add_option("--fetch-range-bytes", fetch.range_bytes,
                   "Model A/C: 0 = one whole GET (Model A), N = ranges of N bytes (Model C)");
    app.add_option("--fetch-threads", fetch.threads, "Model A/C: fetch worker threads (1..32)")
        ->check(CLI::Range(1u, 32u));
    app.add_option("--fetch-attempts", fetch.max_attempts,
                   "Model A/C: requests per binary after failures (1..100)")
        ->check(CLI::Range(1u, 100u));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    options.tls.private_key = key;
    const int fetch_files =
        int(!fetch.certificate.empty()) + int(!fetch.private_key.empty()) +
        int(!fetch.trust_anchors.empty());
    if (fetch_files == 3) {
        options.fetch = fetch;
    } else if (fetch_files != 0 || !fetch.crl.empty()) {
        std::cerr << "enclave-lea-sim: --fetch-cert, --fetch-key and --fetch-ca go together\n";
        return 2;
    }
    if (!split_listen(listen, options.address, options.port)) {
        std::cerr << "enclave-lea-sim: --listen must be ADDR:PORT\n";
        return 2;
    }
    if (!psk_file.empty()) {
        auto psk = enclave::simulator::load_psk_file(psk_file);
        if (!psk) {
            std::cerr << "enclave-lea-sim: --psk-file: " << psk.error().message() << '\n';
            return 2;
        }
        options.psk = std::move(*psk);
    }
    if (!fault_json.empty()) {
        auto fault = enclave::simulator::parse_fault_json(fault_json);
        if (!fault) {
            std::cerr << "enclave-lea-sim: --fault: " << fault.error().message() << '\n';
            return 2;
        }
        options.fault = *fault;
    }
    // Signals are taken with sigwait below; the I/O threads inherit the mask.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    // Every DELIVER message is checked against the ETSI + project schemas.
    auto schemas = enclave::delivery::SchemaSet::shared();
    if (!schemas) {
        std::cerr << "enclave-lea-sim: " << schemas.error().message() << '\n';
        return 1;
    }
    enclave::simulator::use_hi1_schemas(options, *schemas);
    auto sim = LeaSimulator::start(std::move(options));
    if (!sim) {
        std::cerr << "enclave-lea-sim: " << sim.error().message() << '\n';
        return 1;
    }
    if (!port_file.empty() && !write_port_file(port_file, (*sim)->port())) {
        std::cerr << "enclave-lea-sim: cannot write the port file\n";
        return 1;
    }
    std::cout << "enclave-lea-sim listening on " << (*sim)->base_url() << std::endl;
    int sig = 0;
    sigwait(&set, &sig);
    (*sim)->stop();
    std::cout << "enclave-lea-sim: " << (*sim)->status_json() << std::endl;
    return 0;
}
