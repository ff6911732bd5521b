// SPDX-License-Identifier: Apache-2.0
// build_hi1_task_response: one ActionResponse per answer (CREATEResponse,
// UPDATEResponse, GETResponse with the task's non-sensitive view,
// LISTResponse, or ErrorInformation), and the message-level error answer.

#include "crypto/encoding.hpp"
#include "crypto/salted_hash.hpp"
#include "delivery/uuid.hpp"
#include "hi1_task_internal.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using namespace detail;

namespace {

struct Ns {
    xmlNs* core;
    xmlNs* common;
    xmlNs* xsi;
    xmlNs* task;
    xmlNs* enc;
};

Result<void> bad(const std::string& field, const char* why) {
    return fail(Errc::invalid_argument, field + ": " + why);
}

bool is_liid(std::string_view v) noexcept {  // TS 103 280 ([!-~]{1,25})|([0-9a-f]{26,50})
    if (v.empty() || v.size() > 50) {
        return false;
    }
    for (const char c : v) {
        const bool ok = v.size() <= 25 ? (c >= '!' && c <= '~') : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        if (!ok) {
            return false;
        }
    }
    return true;
}

bool is_ldid(std::string_view v) noexcept {  // TS 103 280 [A-Z]{2}-.+-.+ (one line)
    if (v.size() < 6 || v.size() > 65535 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z' || v[2] != '-') {
        return false;
    }
    const auto dash = v.find('-', 4);
    return dash != std::string_view::npos && dash + 1 < v.size() && v.find_first_of("\r\n") == std::string_view::npos;
}

bool is_utc_qdt(std::string_view s) noexcept {  // "YYYY-MM-DDTHH:MM:SSZ"
    static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
    if (s.size() != kShape.size()) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (kShape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != kShape[i]) {
            return false;
        }
    }
    return true;
}

bool is_short(std::string_view s) noexcept { return !s.empty() && s.size() <= 255 && is_xml_text(s); }

Result<void> check_view(const Hi1TaskView& v, const std::string& field) {
    if (auto ok = check_uuid(v.object_id, field + ".object_id"); !ok) {
        return ok;
    }
    if (!(v.kind == ReferenceKind::liid ? is_liid(v.reference) : is_ldid(v.reference)) || !is_xml_text(v.reference)) {
        return bad(field + ".reference", "not a valid LIID / LDID (TS 103 280)");
    }
    if (!is_short(v.status)) {
        return bad(field + ".status", "empty, over 255 bytes or not XML text");
    }
    for (const auto* t : {&v.start, &v.end, &v.last_changed}) {
        if (*t && !is_utc_qdt(**t)) {
            return bad(field, "a time is not \"YYYY-MM-DDTHH:MM:SSZ\"");
        }
    }
    if (v.hashes.size() > kMaxHi1TaskValues) {
        return bad(field + ".hashes", "over 64 records");
    }
    for (std::size_t i = 0; i < v.hashes.size(); ++i) {
        const auto& h = v.hashes[i];
        const std::string hf = field + ".hashes[" + std::to_string(i) + "]";
        if (h.index >= kMaxHi1TaskValues || !is_short(h.format_owner) || !is_short(h.format_name)) {
            return bad(hf, "index over 63, or format owner / name empty, over 255 bytes or not XML text");
        }
        const auto alg = crypto::salted_hash_from_name(h.algorithm);
        if (!alg || h.hash.size() != crypto::salted_hash_size(*alg)) {
            return bad(hf, "unsupported algorithm or a hash of the wrong length");
        }
    }
    return {};
}

void add_entry(xmlNode* parent, const Ns& ns, xmlNs* elem_ns, const char* elem, const char* name,
               const std::string& value) {
    xmlNode* e = add_element(parent, elem_ns, elem);
    add_text(e, ns.common, "Owner", "ETSI", elem).value();
    add_text(e, ns.common, "Name", name, elem).value();
    add_text(e, ns.common, "Value", value, elem).value();
}

void add_hash_records(xmlNode* object, const Ns& ns, const Hi1TaskView& v, const std::string& country) {
    xmlNode* nhp = add_element(object, ns.core, "NationalHandlingParameters");
    xmlNewNsProp(nhp, ns.xsi, xstr("type"), xstr("enc:SaltedHashRecords"));
    add_text(nhp, ns.core, "CountryCode", country, "country_code").value();
    for (const auto& h : v.hashes) {
        xmlNode* r = add_element(nhp, ns.enc, "SaltedHashRecord");
        add_text(r, ns.enc, "ValueIndex", std::to_string(h.index), "hash").value();
        xmlNode* format = add_element(r, ns.enc, "FormatType");
        add_text(format, ns.task, "FormatOwner", h.format_owner, "hash").value();
        add_text(format, ns.task, "FormatName", h.format_name, "hash").value();
        add_text(r, ns.enc, "Algorithm", h.algorithm, "hash").value();
        add_text(r, ns.enc, "Hash", crypto::hex_encode(h.hash), "hash").value();
    }
}

void add_task_object(xmlNode* parent, const Ns& ns, const Hi1TaskView& v, const std::string& country) {
    const bool li = v.kind == ReferenceKind::liid;
    xmlNode* obj = add_element(parent, ns.core, "HI1Object");
    xmlNewNsProp(obj, ns.xsi, xstr("type"), xstr(li ? "task:LITaskObject" : "task:LDTaskObject"));
    add_text(obj, ns.core, "ObjectIdentifier", v.object_id, "object_id").value();
    add_text(obj, ns.core, "CountryCode", country, "country_code").value();
    add_text(obj, ns.core, "Generation", std::to_string(v.generation), "generation").value();
    if (v.last_changed) {
        add_text(obj, ns.core, "LastChanged", *v.last_changed, "last_changed").value();
    }
    add_hash_records(obj, ns, v, country);
    add_text(obj, ns.task, "Reference", v.reference, "reference").value();
    add_entry(obj, ns, ns.task, "Status", li ? "TaskStatus" : "LDTaskStatus", v.status);
    if (v.start || v.end) {
        xmlNode* when = add_element(obj, ns.task, li ? "Timespan" : "RequestDetails");
        if (v.start) {
            add_text(when, ns.task, "StartTime", *v.start, "start").value();
        }
        if (v.end) {
            add_text(when, ns.task, "EndTime", *v.end, "end").value();
        }
    }
}

void add_list(xmlNode* response, const Ns& ns, const std::vector<Hi1TaskView>& list, const std::string& country) {
    xmlNode* l = add_element(response, ns.core, "LISTResponse");
    for (const auto& v : list) {
        xmlNode* rec = add_element(l, ns.core, "ListResponseRecord");
        add_entry(rec, ns, ns.core, "ObjectType", "ObjectType", v.kind == ReferenceKind::liid ? "Task" : "LDTask");
        add_text(rec, ns.core, "Identifier", v.object_id, "object_id").value();
        add_text(rec, ns.core, "CountryCode", country, "country_code").value();
        add_text(rec, ns.core, "Generation", std::to_string(v.generation), "generation").value();
        if (v.last_changed) {
            add_text(rec, ns.core, "LastChanged", *v.last_changed, "last_changed").value();
        }
    }
}

Result<void> check_answer(const Hi1TaskAnswer& a, const std::string& field) {
    if (a.error) {
        if (a.error->description.empty() || a.error->description.size() > 65535 || !is_xml_text(a.error->description)) {
            return bad(field + ".error.description", "empty, over 65535 bytes or not XML text");
        }
        return {};
    }
    switch (a.action) {
        case Hi1TaskAction::create:
        case Hi1TaskAction::update:
            if (auto ok = check_uuid(a.object_id, field + ".object_id"); !ok) {
                return ok;
            }
            return a.view ? check_view(*a.view, field + ".view") : Result<void>{};
        case Hi1TaskAction::get:
            return a.view ? check_view(*a.view, field + ".view") : bad(field + ".view", "a GET answer needs the view");
        case Hi1TaskAction::list:
            for (std::size_t i = 0; i < a.list.size(); ++i) {
                if (auto ok = check_view(a.list[i], field + ".list[" + std::to_string(i) + "]"); !ok) {
                    return ok;
                }
            }
            return {};
        case Hi1TaskAction::unsupported:
            break;
    }
    return bad(field, "an unsupported action can only be answered with an error");
}

void add_answer(xmlNode* responses, const Ns& ns, const Hi1TaskAnswer& a, const std::string& country) {
    xmlNode* r = add_element(responses, ns.core, "ActionResponse");
    add_text(r, ns.core, "ActionIdentifier", std::to_string(a.action_identifier), "action").value();
    if (a.error) {
        xmlNode* info = add_element(r, ns.core, "ErrorInformation");
        add_text(info, ns.core, "ErrorCode", std::to_string(a.error->code), "error.code").value();
        add_text(info, ns.core, "ErrorDescription", a.error->description, "error.description").value();
        return;
    }
    if (a.action == Hi1TaskAction::create || a.action == Hi1TaskAction::update) {
        xmlNode* ok = add_element(r, ns.core, a.action == Hi1TaskAction::create ? "CREATEResponse" : "UPDATEResponse");
        add_text(ok, ns.core, "Identifier", a.object_id, "object_id").value();
        if (a.view) {
            add_task_object(ok, ns, *a.view, country);
        }
    } else if (a.action == Hi1TaskAction::get) {
        add_task_object(add_element(r, ns.core, "GETResponse"), ns, *a.view, country);
    } else {
        add_list(r, ns, a.list, country);
    }
}

}  // namespace

Result<std::string> build_hi1_task_response(const Hi1TaskResponseSpec& spec) {
    if (spec.answers.empty()) {
        return fail(Errc::invalid_argument, "answers: at least one is required");
    }
    const std::string& cc = spec.country_code;
    if (cc.size() != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z') {
        return fail(Errc::invalid_argument, "country_code: not two capital letters (ISO 3166-1)");
    }
    for (std::size_t i = 0; i < spec.answers.size(); ++i) {
        if (auto ok = check_answer(spec.answers[i], "answers[" + std::to_string(i) + "]"); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    Hi1Skeleton m = new_hi1_message();
    const Ns ns{m.core, m.common, m.xsi, xmlNewNs(m.root, xstr(kTaskNs), xstr("task")),
                xmlNewNs(m.root, xstr(kTaskExtensionNs), xstr("enc"))};
    if (auto ok = add_header(m, spec.sender, spec.receiver, spec.transaction_id.value_or(uuid_v4()),
                             spec.timestamp.value_or(hi1_timestamp_now()));
        !ok) {
        return tl::unexpected(ok.error());
    }
    xmlNode* responses = add_element(add_element(add_element(m.root, m.core, "Payload"), m.core, "ResponsePayload"),
                                     m.core, "ActionResponses");
    for (const auto& a : spec.answers) {
        add_answer(responses, ns, a, cc);
    }
    return serialise_document(m.doc.get());
}

Result<std::string> build_hi1_message_error(const EndpointId& sender, const EndpointId& receiver,
                                            std::optional<std::string> transaction_id, const Hi1Error& error,
                                            std::optional<std::string> timestamp) {
    DeliverResponseSpec s;
    s.sender = sender;
    s.receiver = receiver;
    s.transaction_id = std::move(transaction_id);
    s.error = error;
    s.message_level_error = true;
    s.timestamp = std::move(timestamp);
    return build_deliver_response(s);
}

}  // namespace enclave::delivery
