// SPDX-License-Identifier: Apache-2.0
// fuzz_make_seeds CORPUS_DIR: writes the structured seed inputs of
// tests/fuzz/corpus/<name>/ with the project's own builders and writers
// (HI1 requests and answers, handover items, configs, bundles, signed notes,
// blobs, wrapped key files, LTAP messages), so that the seeds have exactly the shapes the
// appliance meets. Built with ENCLAVE_FUZZ=ON; run by hand when a format
// changes (docs/reliability.md). Keys: fuzz_seed_keys.hpp (public, fixed).
#include <unistd.h>
#include <fcntl.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "appliance/config.hpp"
#include "archive/ltap.hpp"
#include "archive/ltap_samples.hpp"
#include "audit/bundle_test_util.hpp"
#include "crypto/blob_format.hpp"
#include "crypto/wrapped_key_file.hpp"
#include "delivery/hi1_deliver.hpp"
#include "delivery/hi1_task_test_util.hpp"
#include "delivery/ingest_json.hpp"
#include "delivery/xml_handover.hpp"
#include "fuzz_seed_keys.hpp"

using namespace enclave;
namespace fs = std::filesystem;

namespace {

fs::path g_root;

void put(const std::string& harness, const std::string& name, std::string_view bytes) {
    const auto dir = g_root / harness;
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

template <class T>
T ok(crypto::Result<T> r, const char* what) {
    if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().message());
    return std::move(*r);
}

constexpr const char* kIngestFull = R"({
  "idempotencyKey": "collector-7:42",
  "timestamp": "2026-01-01T00:00:00.000000Z",
  "sender": {"identifiers": ["alice@example", {"formatType": "EmailAddress", "value": "a@b.example"}],
             "isTargetedParty": true},
  "receivers": [{"identifiers": ["bob"]}, {"identifiers": [{"value": "carol"}], "isTargetedParty": false}],
  "binaries": ["0123abcd", {"id": "blob_2-x", "originalFilename": "photo.jpg", "cspDefinedIdentifier": "att-9"}],
  "cspDefined": {"schemaIdentifier": "urn:csp:msg:1", "schemaUrl": "https://csp.example/s.xsd",
                 "xml": "<m xmlns=\"urn:csp\">hi</m>"},
  "applicationCorrelation": {"applicationLevelID": 18446744073709551615, "applicationSequenceNumber": 0}
})";

std::vector<std::string> handover_items() {
    std::vector<std::string> out;
    auto items = ok(delivery::parse_ingest_items(kIngestFull), "ingest seed");
    auto item = items.at(0).item;
    for (std::size_t i = 0; i < item.associated_binary_data.size(); ++i) {
        auto& b = item.associated_binary_data[i];
        b.url = "https://csp.example:8443/v1/binaries/4f1c2d7e9a0b4c3d8e7f6a5b4c3d2e1f" + std::to_string(i);
        b.content_length = 1000 + i;
        b.content_type = "image/jpeg";
        b.expiry = "2026-02-01T00:00:00Z";
        b.checksum = std::string(64, 'c');
    }
    out.push_back(ok(delivery::write_handover_item(item), "full item"));
    auto small = ok(delivery::parse_ingest_items(R"({"timestamp": "2026-02-28T23:59:59+01:00"})"), "small");
    out.push_back(ok(delivery::write_handover_item(small.at(0).item), "small item"));
    return out;
}

void hi1_task_seeds() {
    using namespace delivery::testing;
    put("hi1_task", "create-li-two-values.xml", hi1_request(action(0, "CREATE", task_object(two_value_li_task()))));
    TestTask ld = two_value_li_task();
    ld.li = false;
    ld.reference = "GB-LEA1-000123";
    put("hi1_task", "create-ld.xml", hi1_request(action(0, "CREATE", task_object(ld))));
    TestTask update = two_value_li_task();
    update.values.resize(1);
    put("hi1_task", "update-get-list.xml",
        hi1_request(action(0, "UPDATE", task_object(update)) +
                    action(1, "GET", "<Identifier>2b36a78b-b628-416d-bd22-404e68a0cd36</Identifier>") +
                    action(2, "LIST",
                           "<ObjectType><common:Owner>ETSI</common:Owner><common:Name>ObjectType</common:Name>"
                           "<common:Value>LDTask</common:Value></ObjectType><MaximumObjectCount>10</MaximumObjectCount>") +
                    action(3, "LIST", "")));
    TestTask bad = two_value_li_task();
    bad.values[0].hash_hex = std::string(64, '0');
    put("hi1_task", "create-wrong-hash.xml", hi1_request(action(0, "CREATE", task_object(bad))));
}

void deliver_seeds(const std::vector<std::string>& items) {
    delivery::DeliverySpec spec;
    spec.sender = {"GB", "CSP-ENCLAVE-1"};
    spec.reference = "LIID-0001";
    spec.delivery_id = "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    spec.sequence_number = 3;
    spec.timestamp = "2026-01-01T12:00:00.000000Z";
    spec.transaction_id = "c02358b2-76cf-4ba4-a8eb-f6436ccaea2e";
    const auto one = ok(delivery::build_deliver_request(spec, std::span(items).first(1)), "deliver one");
    const auto two = ok(delivery::build_deliver_request(spec, items), "deliver two");
    spec.last_sequence = true;
    spec.reference_kind = delivery::ReferenceKind::ldid;
    spec.reference = "GB-LEA1-000123";
    const auto closing = ok(delivery::build_deliver_request(spec, {}), "closing marker");
    delivery::DeliverResponseSpec rs;
    rs.sender = {"XX", "LEA-1"};
    rs.receiver = spec.sender;
    rs.transaction_id = spec.transaction_id;
    rs.action_identifier = 0;
    rs.object_id = spec.delivery_id;
    rs.timestamp = spec.timestamp;
    const auto accepted = ok(delivery::build_deliver_response(rs), "response");
    rs.error = delivery::Hi1Error{3000, "sequence number out of order"};
    const auto refused = ok(delivery::build_deliver_response(rs), "error response");
    rs.message_level_error = true;
    const auto refused_msg = ok(delivery::build_deliver_response(rs), "message error response");
    for (const char* h : {"hi1_deliver", "sim_delivery"}) {
        put(h, "deliver-one-item.xml", one);
        put(h, "deliver-two-items.xml", two);
        put(h, "deliver-closing-ldid.xml", closing);
    }
    put("hi1_deliver", "response-accepted.xml", accepted);
    put("hi1_deliver", "response-action-error.xml", refused);
    put("hi1_deliver", "response-message-error.xml", refused_msg);
    put("sim_delivery", "fault-delay.json", R"({"kind":"delay","target":"binary","delay_ms":250,"count":2})");
    put("sim_delivery", "fault-refuse.json", R"({"kind":"refuse","target":"xml"})");
    put("sim_delivery", "fault-status.json", R"({"kind":"status","status":503,"target":"xml","count":3})");
    put("sim_delivery", "fault-stall.json", R"({"kind":"stall","target":"all","delay_ms":30000})");
}

void handover_seeds(const std::vector<std::string>& items) {
    put("handover_xml", "item-full.xml", items.at(0));
    put("handover_xml", "item-minimal.xml", items.at(1));
    put("handover_xml", "collection.xml",
        std::string("<handoverItemCollection xmlns=\"") + delivery::kTs103707Namespace + "\">" +
            items.at(0) + items.at(1) + "</handoverItemCollection>");
    put("ingest_json", "full.json", kIngestFull);
    put("ingest_json", "minimal.json", R"({"timestamp": "2026-02-28T23:59:59+01:00"})");
    put("ingest_json", "array.json",
        R"([{"timestamp": "2026-01-01T00:00:00Z", "idempotencyKey": "a"},
            {"timestamp": "2026-01-01T00:00:01Z", "idempotencyKey": "b", "receivers": [{"identifiers": ["x"]}]}])");
}

void range_seeds() {
    // http_range: byte 0 picks the size (fuzz_ranges.cpp kSizes: 5 = 1000, 6 = 65536, 0 = empty).
    const auto etag = std::string("\"sha256-") + std::string(64, 'a') + "\"";
    put("http_range", "single.txt", std::string("\x05") + "bytes=0-99");
    put("http_range", "multi.txt", std::string("\x05") + "bytes=0-9, 20-29,-5");
    put("http_range", "suffix-open.txt", std::string("\x06") + "bytes=-100,500-");
    put("http_range", "if-range.txt", std::string("\x05") + "bytes=10-20\n" + etag + "\ntext/plain; charset=utf-8");
    put("http_range", "overlap.txt", std::string("\x05") + "bytes=0-10,5-20");
    put("http_range", "unsatisfiable.txt", std::string("\x05") + "bytes=2000-3000");
    put("http_range", "empty-object.txt", std::string("\x00", 1) + "bytes=0-");
    put("lea_range", "content-range.txt", "bytes 0-99/1000");
    put("lea_range", "content-range-star.txt", "bytes 100-199/*");
    put("lea_range", "unsatisfied.txt", "bytes */1000");
    put("lea_range", "etag.txt", etag);
    put("lea_range", "url.txt", "https://lea.example:8443/hi1/delivery?x=1");
    put("lea_range", "url-v6.txt", "https://[2001:db8::1]/v1/binaries/abc");
}

void file_seeds() {
    const auto cfg = appliance::default_config("/var/lib/enclave-fuzz");
    put("config", "default.toml", appliance::render_config(cfg));
    put("config", "small.toml",
        "instance_name = \"enclave-2\"\n[token]\npin_source = \"env:ENCLAVE_PIN\"\n"
        "[listeners.lea]\nport = 8443\n[endpoints.lea-1]\nclient_subjects = [\"CN=lea-1,O=LEA\"]\n");
    crypto::WrappedKeyFile wk{"kek-0123456789abcdef", crypto::Bytes(40, 0xa5)};
    const auto bytes = ok(wk.encode(), "wrapped key");
    put("wrapped_key", "wrapped-40.bin", std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    put("psk_file", "two.txt",
        "# identity key\nlea-1-2026 " + std::string(64, 'a') + "\n\nlea-2 " + std::string(128, '0') + "\n");
}

void blob_seed(const char* name, std::size_t plain, std::uint32_t chunk) {
    const auto path = g_root / "blob" / name;
    fs::create_directories(path.parent_path());
    crypto::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) throw std::runtime_error("cannot create " + path.string());
    const auto key = crypto::Secret::copy_of(crypto::ByteView(fuzz::kBlobSeedKey));
    crypto::BlobWriterOptions options;
    options.chunk_size = chunk;
    options.write_behind = false;
    auto w = ok(crypto::BlobWriter::create(std::move(fd), key, fuzz::kBlobSeedObjectId, options), "blob writer");
    crypto::Bytes data(plain);
    for (std::size_t i = 0; i < plain; ++i) data[i] = static_cast<std::uint8_t>(i * 7);
    if (auto written = w.write(data); !written) throw std::runtime_error("blob write: " + written.error().message());
    (void)ok(w.finish(), "blob finish");
}

void audit_seeds() {
    testing::SyntheticLog log(fuzz::kNoteSeedOrigin, testing::SoftNoteKey::from_seed(crypto::ByteView(fuzz::kNoteSeedKey)));
    log.append(3, "task.created");
    log.append(2, "task.updated");
    const auto tmp = g_root / "audit_bundle" / "bundle-5.jsonl";
    fs::create_directories(tmp.parent_path());
    fs::remove(tmp);
    log.write_bundle(tmp, {2, 4});
    put("signed_note", "checkpoint-5.txt", log.checkpoint());
    put("signed_note", "checkpoint-2.txt", log.checkpoint(2));
    put("signed_note", "verifier-key.txt", log.key().to_string() + "\n");
}

// LTAP requests for every service type, responses for every status, an
// ErrorNotice (archive/ltap.hpp, the samples of tests/archive).
void ltap_seeds() {
    using namespace archive;
    using archive::testing::full_operation;
    using archive::testing::full_request;
    for (const auto service : {ServiceType::archive, ServiceType::status, ServiceType::verify, ServiceType::export_,
                               ServiceType::delete_}) {
        const std::string name(to_string(service));
        put("ltap", "request-" + name + ".xml", ok(render_request(full_request(service)), "ltap request"));
    }
    for (const auto status :
         {StatusInfo::waiting, StatusInfo::granted, StatusInfo::granted_with_mods, StatusInfo::rejection}) {
        const std::string name(to_string(status));
        put("ltap", "response-" + name + ".xml",
            ok(render_response(full_operation(ServiceType::archive, status)), "ltap response"));
    }
    put("ltap", "response-error-notice.xml",
        ok(render_response(ErrorNotice{2, "the request could not be decoded (line 3)"}), "ltap error notice"));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
        return 2;
    }
    try {
        g_root = argv[1];
        const auto items = handover_items();
        hi1_task_seeds();
        deliver_seeds(items);
        handover_seeds(items);
        range_seeds();
        file_seeds();
        blob_seed("blob-empty.bin", 0, 256);
        blob_seed("blob-700-chunk256.bin", 700, 256);
        blob_seed("blob-3000-chunk1024.bin", 3000, 1024);
        audit_seeds();
        ltap_seeds();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_make_seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}
