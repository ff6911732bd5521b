// SPDX-License-Identifier: Apache-2.0
// enclavectl: provisions an instance (init), asks a running enclaved about
// itself over the admin socket (status, hsm status), manages tasks, works
// with the audit log and exports from / verifies the archive offline
// (appliance/ctl.hpp has the task, audit and archive commands).
//
// Exit codes (docs/provisioning.md): 0 ok, 1 usage error (audit reverify: a
// mismatch; audit verify, archive verify: a bundle or evidence record that
// does not verify), 2 failure,
// 3 enclaved is not running. With --json, stdout carries exactly one JSON
// document (the result, or {"error":{"code","message"}}); without it, human
// text. Errors also go to stderr. No PIN is ever taken from argv.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "appliance/admin_client.hpp"
#include "appliance/config.hpp"
#include "appliance/ctl.hpp"
#include "appliance/provision.hpp"

namespace {

using namespace enclave;
using appliance::AdminClient;
using nlohmann::json;

using appliance::ctl::Globals;
using appliance::ctl::kExitFailure;
using appliance::ctl::kExitNotRunning;
using appliance::ctl::kExitOk;
using appliance::ctl::kExitUsage;
using appliance::ctl::data_dir_of;
using appliance::ctl::printable;
using appliance::ctl::report_error;

// A field of a JSON object from the daemon as text ("?" when absent).
std::string text(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key)) return "?";
    const json& v = j.at(key);
    if (v.is_string()) return printable(v.get<std::string>());
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    if (v.is_number() || v.is_null()) return v.dump();
    return "?";
}

json object(const json& j, const char* key) {
    return j.is_object() && j.contains(key) && j.at(key).is_object() ? j.at(key) : json::object();
}

json array(const json& j, const char* key) {
    return j.is_object() && j.contains(key) && j.at(key).is_array() ? j.at(key) : json::array();
}

int cmd_init(const Globals& g, appliance::ProvisionOptions o) {
    o.data_dir = data_dir_of(g);
    auto r = appliance::provision_instance(o);
    if (!r) return report_error(g, r.error());
    json keys = json::array();
    for (const auto& k : r->keys) {
        keys.push_back({{"label", k.label}, {"type", k.type}, {"uri", k.uri}});
    }
    json files = json::array();
    for (const auto& f : r->created) files.push_back(f.string());
    if (g.json) {
        std::cout << json{{"data_dir", r->data_dir.string()},
                          {"config", r->config_file.string()},
                          {"own_softhsm", r->own_softhsm},
                          {"module", r->module_path},
                          {"token",
                           {{"label", r->token.label},
                            {"manufacturer", r->token.manufacturer},
                            {"model", r->token.model},
                            {"serial", r->token.serial}}},
                          {"keys", keys},
                          {"files", files},
                          {"warnings", r->warnings}}
                         .dump(2)
                  << "\n";
        return kExitOk;
    }
    std::cout << "Provisioned an Enclave instance in " << r->data_dir.string() << "\n"
              << "  config: " << r->config_file.string() << "\n"
              << "  token:  '" << r->token.label << "' (" << r->token.model << ", serial "
              << r->token.serial << ")"
              << (r->own_softhsm ? ", SoftHSM2 under the data directory" : "")
              << "\n  module: " << r->module_path
              << "\n  keys on the token (sensitive, non-extractable):\n";
    for (const auto& k : r->keys) {
        std::cout << "    " << std::left << std::setw(16) << k.label << k.type << "\n";
    }
    std::cout << "  demo PKI: " << (r->data_dir / "pki").string()
              << " (DEMO CA: not for production)\n";
    for (const auto& w : r->warnings) std::cout << "WARNING: " << w << "\n";
    std::cout << "Start the daemon with: enclaved --data-dir " << r->data_dir.string() << "\n";
    return kExitOk;
}

int query_daemon(const Globals& g, std::string_view target, json& out) {
    return appliance::ctl::call(g, "GET", target, {}, out);
}

int cmd_status(const Globals& g) {
    json s;
    if (int rc = query_daemon(g, "/v1/status", s); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << s.dump(2) << "\n";
        return kExitOk;
    }
    const json token = object(s, "token");
    std::cout << "enclaved " << text(s, "version") << ", instance '" << text(s, "instance") << "'\n"
              << "  ready:   " << text(s, "ready") << "\n"
              << "  uptime:  " << text(s, "uptime_seconds") << " s\n"
              << "  token:   '" << text(token, "label")
              << "', logged in: " << text(token, "logged_in") << "\n"
              << "  listeners:\n";
    for (const json& l : array(s, "listeners")) {
        std::cout << "    " << std::left << std::setw(8) << text(l, "name") << std::setw(24)
                  << text(l, "address") << " " << text(l, "active_connections")
                  << " active connections\n";
    }
    return kExitOk;
}

int cmd_hsm_status(const Globals& g) {
    json s;
    if (int rc = query_daemon(g, "/v1/hsm/status", s); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << s.dump(2) << "\n";
        return kExitOk;
    }
    const json module = object(s, "module");
    const json token = object(s, "token");
    std::cout << "module: " << text(module, "path") << " (" << text(module, "manufacturer") << ")\n"
              << "token:  '" << text(token, "label") << "' " << text(token, "manufacturer") << " "
              << text(token, "model") << ", serial " << text(token, "serial") << ", slot "
              << text(token, "slot_id") << "\nkeys:\n  " << std::left << std::setw(18) << "LABEL"
              << std::setw(9) << "CLASS" << std::setw(10) << "TYPE" << std::setw(11) << "SENSITIVE"
              << std::setw(13) << "EXTRACTABLE"
              << "ID\n";
    for (const json& k : array(s, "keys")) {
        std::cout << "  " << std::setw(18) << text(k, "label") << std::setw(9) << text(k, "class")
                  << std::setw(10) << text(k, "type") << std::setw(11) << text(k, "sensitive")
                  << std::setw(13) << text(k, "extractable") << text(k, "id") << "\n";
    }
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "enclavectl: provision an Enclave instance, inspect a running enclaved, manage tasks "
        "and work with the audit log.\n"
        "Exit codes: 0 ok, 1 usage error (audit reverify: mismatch; audit verify, archive "
        "verify: the bundle or evidence record does not verify), 2 failure, 3 enclaved is not "
        "running."};
    app.fallthrough();  // global options are accepted after the subcommand too (inherited)
    app.require_subcommand(1);
    Globals g;
    app.add_option("--data-dir", g.data_dir,
                   "Instance data directory (default: $ENCLAVE_DATA_DIR, else ./var)");
    app.add_option("--config", g.config, "Config file (default: DATA_DIR/enclave.toml)");
    app.add_flag("--json", g.json, "Machine-readable JSON on stdout");

    appliance::ProvisionOptions po;
    std::string pin_file;
    std::string label;
    CLI::App* init = app.add_subcommand("init", "Provision a new instance in the data directory");
    CLI::Option* uri_opt = init->add_option(
        "--pkcs11-uri", po.pkcs11_uri, "Use this existing token instead of a new SoftHSM2 token");
    CLI::Option* pin_opt =
        init->add_option("--pin-file", pin_file, "User PIN of that token (a 0600 file)");
    CLI::Option* label_opt = init->add_option("--force-new-token-label", label,
                                              "Label of the new SoftHSM2 token (default: enclave)");
    uri_opt->needs(pin_opt);
    pin_opt->needs(uri_opt);
    label_opt->excludes(uri_opt);
    CLI::App* status = app.add_subcommand("status", "Show the running daemon's status");
    CLI::App* hsm = app.add_subcommand("hsm", "Token commands");
    hsm->require_subcommand(1);
    CLI::App* hsm_status = hsm->add_subcommand("status", "Show the token, its slot and its keys");

    // tasks
    std::string file, reference, input = "-", review_id, out_file, key, since;
    std::uint64_t field = 0, index = 0, old_size = 0;
    std::optional<std::uint64_t> size, new_size;
    bool reveal = false, discard = false, make_new = false, force = false;
    CLI::App* task = app.add_subcommand("task", "Tasks with salted hashes (TS 103 707 D.4)");
    task->require_subcommand(1);
    CLI::App* task_create = task->add_subcommand("create", "Create a task from its JSON");
    task_create->add_option("--file", file, "The task JSON; - for stdin (never on argv)")
        ->required();
    CLI::App* task_list = task->add_subcommand("list", "List tasks (hashes only)");
    CLI::App* task_show = task->add_subcommand("show", "Show one task's record");
    task_show->add_option("reference", reference, "LIID or LDID")->required();
    task_show->add_flag("--reveal", reveal,
                        "Security officers: show the values and salts of an active task "
                        "(recorded in the audit log)");
    CLI::App* task_close = task->add_subcommand("close", "Close a task now: destroy values, salts and key");
    task_close->add_option("reference", reference, "LIID or LDID")->required();

    // audit
    CLI::App* audit = app.add_subcommand("audit", "Re-verification and the audit log");
    audit->require_subcommand(1);
    CLI::App* reverify = audit->add_subcommand(
        "reverify", "Check a value and salt the LEA handed back against a record "
                    "(reads {\"value\",\"salt\"} from stdin; exit 0 match, 1 mismatch)");
    reverify->add_option("reference", reference, "LIID or LDID")->required();
    reverify->add_option("--field", field, "Field index (0-based)")->required();
    reverify->add_option("--input", input, "Read the JSON from this file instead of stdin");
    CLI::App* review = audit->add_subcommand("review", "Show the value of your open review");
    review->add_option("id", review_id, "Review id from `audit reverify`")->required();
    review->add_flag("--discard", discard, "End the review now (the value is destroyed)");
    CLI::App* checkpoint = audit->add_subcommand("checkpoint", "The latest signed checkpoint");
    checkpoint->add_flag("--new", make_new, "Sign a checkpoint of the current log first");
    CLI::App* audit_key = audit->add_subcommand("key", "The audit log's verifier key (pin it)");
    CLI::App* proof = audit->add_subcommand("proof", "Merkle proofs (RFC 9162)");
    proof->require_subcommand(1);
    CLI::App* inclusion = proof->add_subcommand("inclusion", "Inclusion proof of one entry");
    inclusion->add_option("--index", index, "Entry index")->required();
    inclusion->add_option("--size", size, "Tree size (default: the latest checkpoint's)");
    CLI::App* consistency = proof->add_subcommand("consistency", "Consistency proof between sizes");
    consistency->add_option("--old", old_size, "Older tree size")->required();
    consistency->add_option("--new", new_size, "Newer tree size (default: the latest checkpoint's)");
    CLI::App* export_cmd = audit->add_subcommand("export", "Write an offline bundle of the whole log");
    export_cmd->add_option("--out", out_file, "Bundle file to write")->required();
    export_cmd->add_flag("--force", force, "Replace an existing file");
    CLI::App* verify = audit->add_subcommand(
        "verify", "Verify a bundle offline (no daemon, no token); exit 1 when it does not verify");
    verify->add_option("bundle", file, "Bundle file")->required();
    verify->add_option("--key", key, "The verifier key you trust, or a file holding it");
    verify->add_option("--since-checkpoint", since,
                       "A checkpoint you kept earlier (file): the bundle must extend it");

    // LEA endpoints
    appliance::ctl::EndpointAddOptions eo;
    std::string endpoint_name;
    CLI::App* endpoint = app.add_subcommand("endpoint", "LEA endpoints deliveries go to");
    endpoint->require_subcommand(1);
    CLI::App* ep_add = endpoint->add_subcommand("add", "Add an endpoint (security officers)");
    ep_add->add_option("name", eo.name, "Endpoint name, as tasks name it")->required();
    ep_add->add_option("--url", eo.url, "https URL DeliveryObjects are POSTed to")->required();
    ep_add->add_option("--crl", eo.crl_file,
                       "PEM CRLs checked on the LEA's server certificate chain (optional)");
    ep_add->add_option("--ca", eo.ca_file, "PEM trust anchors for the LEA's server certificate")
        ->required();
    ep_add->add_option("--pin-spki", eo.spki_sha256,
                       "SHA-256 (hex) of the LEA server key's SubjectPublicKeyInfo");
    ep_add->add_option("--binary-url-scheme", eo.binary_url_scheme,
                       "Model B: https://lea.example/binaryData/{id}/");
    ep_add->add_option("--models", eo.models, "Delivery models, e.g. B or A,B,C (default B)");
    ep_add->add_option("--auth", eo.auth,
                       "certificate (default) or psk (a TLS PSK from `enclavectl psk`)")
        ->check(CLI::IsMember({"certificate", "psk"}));
    ep_add->add_option("--sender-country", eo.sender_country, "Header sender CountryCode (XX)");
    ep_add->add_option("--sender-id", eo.sender_unique_id, "Header sender UniqueIdentifier");
    ep_add->add_option("--receiver-country", eo.receiver_country, "Header receiver CountryCode (XX)");
    ep_add->add_option("--receiver-id", eo.receiver_unique_id,
                       "Header receiver UniqueIdentifier (Not specified)");
    ep_add->add_option("--client-subject", eo.client_subjects,
                       "The LEA's client certificate subject on our LEA listener (repeatable)");
    ep_add->add_option("--client-cert", eo.client_certificate,
                       "Client certificate to present (default: [lea_client])");
    ep_add->add_option("--client-key", eo.client_key, "Its token key (pkcs11: URI)");
    ep_add->add_option("--max-connections", eo.max_connections, "Connections at most (2)");
    ep_add->add_option("--connect-timeout-ms", eo.connect_timeout_ms, "Connect + handshake (10000)");
    ep_add->add_option("--response-timeout-ms", eo.response_timeout_ms, "Per request (30000)");
    CLI::App* ep_list = endpoint->add_subcommand("list", "List endpoints");
    CLI::App* ep_show = endpoint->add_subcommand("show", "Show one endpoint");
    ep_show->add_option("name", endpoint_name, "Endpoint name")->required();
    CLI::App* ep_remove = endpoint->add_subcommand("remove", "Remove an endpoint (security officers)");
    ep_remove->add_option("name", endpoint_name, "Endpoint name")->required();

    // TLS PSKs of LEA endpoints (security officers; list: any role)
    appliance::ctl::PskOptions pso;
    CLI::App* psk = app.add_subcommand("psk", "TLS pre-shared keys of LEA endpoints");
    psk->require_subcommand(1);
    auto psk_common = [&pso](CLI::App* c, bool with_out) {
        c->add_option("--endpoint", pso.endpoint, "The endpoint the PSK authenticates")->required();
        c->add_option("--identity", pso.identity, "TLS PSK identity (never reused)")->required();
        c->add_option("--expires-days", pso.expires_days, "Expires after N days (0: never)");
        if (with_out) {
            c->add_option("--out", pso.out, "Write the key to this new file (0600) instead of stdout");
        }
    };
    CLI::App* psk_new = psk->add_subcommand("new", "Generate a PSK; the key is shown once");
    psk_common(psk_new, true);
    CLI::App* psk_import =
        psk->add_subcommand("import", "Import a PSK: 64..128 hex digits on stdin");
    psk_common(psk_import, false);
    CLI::App* psk_list = psk->add_subcommand("list", "List PSKs (never a key)");
    CLI::App* psk_rotate = psk->add_subcommand(
        "rotate", "New PSK for the endpoint; its others retire after the overlap");
    psk_common(psk_rotate, true);
    psk_rotate->add_option("--overlap-hours", pso.overlap_hours,
                           "Hours the old PSKs stay usable (default 24, at most 720)");
    CLI::App* psk_revoke = psk->add_subcommand("revoke", "Revoke a PSK now");
    psk_revoke->add_option("--identity", pso.identity, "TLS PSK identity")->required();

    // two-person control (security officers)
    std::string proposal_id;
    CLI::App* approvals = app.add_subcommand(
        "approvals", "Two-person control: proposals awaiting a second officer");
    approvals->require_subcommand(1);
    CLI::App* appr_list = approvals->add_subcommand("list", "List pending proposals (never a body)");
    CLI::App* appr_approve = approvals->add_subcommand(
        "approve", "Approve another officer's proposal: it runs now, its answer comes to you");
    appr_approve->add_option("id", proposal_id, "Proposal id")->required();
    CLI::App* appr_reject =
        approvals->add_subcommand("reject", "Withdraw or refuse a proposal");
    appr_reject->add_option("id", proposal_id, "Proposal id")->required();
    // the appliance's own certificates (security officers; list: any role)
    appliance::ctl::CertOptions co;
    CLI::App* cert = app.add_subcommand("cert", "The appliance's TLS certificates and token keys");
    cert->require_subcommand(1);
    auto cert_request = [&co](CLI::App* c, bool subject_required) {
        c->add_option("--label", co.label, "Label of the new token key")->required();
        auto* subj = c->add_option("--subject", co.subject,
                                   "Subject DN, RFC 4514 (\"CN=...,O=...,C=GB\")");
        if (subject_required) subj->required();
        c->add_option("--san", co.sans, "Subject alternative name: DNS:name or IP:address (repeat)");
        c->add_option("--out", co.out, "Write the CSR to this new file instead of stdout");
    };
    CLI::App* cert_new = cert->add_subcommand("new", "New P-256 key on the token and its CSR");
    cert_request(cert_new, true);
    CLI::App* cert_rotate = cert->add_subcommand(
        "rotate", "New key and CSR staged for a listener or the outbound LEA client; "
                  "`cert import` switches it live");
    cert_request(cert_rotate, false);
    cert_rotate->add_option("--listener", co.listener, "lea, ingest, admin-tls or lea-client")
        ->required()
        ->check(CLI::IsMember({"lea", "ingest", "admin-tls", "lea-client"}));
    CLI::App* cert_import = cert->add_subcommand(
        "import", "Import a PEM chain (leaf first) for a token key; a listener (or the outbound "
                  "LEA client) using or waiting for the key switches to it");
    cert_import->add_option("--label", co.label, "Label of the token key")->required();
    cert_import->add_option("file", co.file, "PEM certificate chain, leaf first")->required();
    CLI::App* cert_list = cert->add_subcommand("list", "Certificates, staged keys and their users");
    CLI::App* cert_retire = cert->add_subcommand("retire", "Destroy a token key no listener uses");
    cert_retire->add_option("--label", co.label, "Label of the token key")->required();

    // the long-term archive, offline
    std::string arch_data, arch_evidence, arch_tsa, arch_object, arch_out;
    CLI::App* arch = app.add_subcommand("archive", "The long-term archive (docs/archive.md)");
    arch->require_subcommand(1);
    CLI::App* arch_verify = arch->add_subcommand(
        "verify", "Verify an evidence record for data offline (no daemon, no token); exit 1 when "
                  "it does not verify");
    arch_verify->add_option("--data", arch_data, "The archived data (file)")->required();
    arch_verify->add_option("--evidence", arch_evidence, "Its RFC 4998 evidence record (DER file)")
        ->required();
    arch_verify->add_option("--tsa-cert", arch_tsa,
                            "The TSA certificate you trust, DER or PEM (default: the instance's "
                            "tsa.crt when --data-dir or ENCLAVE_DATA_DIR names one)");
    CLI::App* arch_export = arch->add_subcommand(
        "export", "With enclaved stopped: write one granted object's data, evidence record, "
                  "metadata and the TSA certificate into a folder");
    arch_export->add_option("--object", arch_object, "Object reference (urn:x-enclave:ltap:obj:...)")
        ->required();
    arch_export->add_option("--out", arch_out, "Folder to write into (made when missing)")
        ->required();
    CLI::App* arch_status = arch->add_subcommand("status", "Archive counts and the TSA certificate (daemon)");
    CLI::App* arch_seal = arch->add_subcommand("seal", "Seal every waiting object now (daemon)");
    std::string renew_kind, renew_digest;
    CLI::App* arch_renew = arch->add_subcommand(
        "renew", "Renew every granted object's evidence: a new time stamp, or a new hash tree (daemon)");
    arch_renew->add_option("--kind", renew_kind, "timestamp or hash-tree")
        ->required()
        ->check(CLI::IsMember({"timestamp", "hash-tree"}));
    arch_renew->add_option("--digest", renew_digest, "hash-tree: sha256, sha384 or sha512 (default sha512)")
        ->check(CLI::IsMember({"sha256", "sha384", "sha512"}));

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);  // help text on stdout, or the usage error on stderr
        if (rc == 0) return kExitOk;
        // --json promises one JSON document on stdout, usage errors included.
        for (int i = 1; i < argc; ++i) {
            if (std::string_view(argv[i]) == "--json") {
                std::cout << json{{"error", {{"code", "usage"}, {"message", e.what()}}}}.dump(2)
                          << "\n";
                break;
            }
        }
        return kExitUsage;
    }
    try {
        if (init->parsed()) {
            po.pin_file = pin_file;
            if (!label.empty() || label_opt->count() > 0) po.token_label = label;
            return cmd_init(g, po);
        }
        if (status->parsed()) return cmd_status(g);
        if (hsm_status->parsed()) return cmd_hsm_status(g);
        if (task_create->parsed()) return appliance::ctl::task_create(g, file);
        if (task_list->parsed()) return appliance::ctl::task_list(g);
        if (task_show->parsed()) return appliance::ctl::task_show(g, reference, reveal);
        if (task_close->parsed()) return appliance::ctl::task_close(g, reference);
        if (reverify->parsed()) return appliance::ctl::audit_reverify(g, reference, field, input);
        if (review->parsed()) return appliance::ctl::audit_review(g, review_id, discard);
        if (checkpoint->parsed()) return appliance::ctl::audit_checkpoint(g, make_new);
        if (audit_key->parsed()) return appliance::ctl::audit_key(g);
        if (inclusion->parsed()) return appliance::ctl::audit_proof_inclusion(g, index, size);
        if (consistency->parsed()) return appliance::ctl::audit_proof_consistency(g, old_size, new_size);
        if (export_cmd->parsed()) return appliance::ctl::audit_export(g, out_file, force);
        if (verify->parsed()) return appliance::ctl::audit_verify(g, file, key, since);
        if (arch_verify->parsed()) {
            return appliance::ctl::archive_verify(g, arch_data, arch_evidence, arch_tsa);
        }
        if (arch_export->parsed()) return appliance::ctl::archive_export(g, arch_object, arch_out);
        if (arch_status->parsed()) return appliance::ctl::archive_status(g);
        if (arch_seal->parsed()) return appliance::ctl::archive_seal(g);
        if (arch_renew->parsed()) return appliance::ctl::archive_renew(g, renew_kind, renew_digest);
        if (ep_add->parsed()) return appliance::ctl::endpoint_add(g, eo);
        if (ep_list->parsed()) return appliance::ctl::endpoint_list(g);
        if (ep_show->parsed()) return appliance::ctl::endpoint_show(g, endpoint_name);
        if (ep_remove->parsed()) return appliance::ctl::endpoint_remove(g, endpoint_name);
        if (cert_new->parsed()) return appliance::ctl::cert_new(g, co);
        if (cert_rotate->parsed()) return appliance::ctl::cert_rotate(g, co);
        if (cert_import->parsed()) return appliance::ctl::cert_import(g, co);
        if (cert_list->parsed()) return appliance::ctl::cert_list(g);
        if (cert_retire->parsed()) return appliance::ctl::cert_retire(g, co.label);
        if (psk_new->parsed()) return appliance::ctl::psk_new(g, pso);
        if (psk_import->parsed()) return appliance::ctl::psk_import(g, pso);
        if (psk_list->parsed()) return appliance::ctl::psk_list(g);
        if (psk_rotate->parsed()) return appliance::ctl::psk_rotate(g, pso);
        if (psk_revoke->parsed()) return appliance::ctl::psk_revoke(g, pso.identity);
        if (appr_list->parsed()) return appliance::ctl::approvals_list(g);
        if (appr_approve->parsed()) return appliance::ctl::approvals_approve(g, proposal_id);
        if (appr_reject->parsed()) return appliance::ctl::approvals_reject(g, proposal_id);
    } catch (const std::exception& e) {
        return report_error(g, "internal", std::string("unexpected failure: ") + e.what(),
                            kExitFailure);
    }
    return kExitUsage;
}
