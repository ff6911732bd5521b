// SPDX-License-Identifier: Apache-2.0
// parse_hi1_task_request: the message (parse, validate, header), then each
// ActionRequest on its own (a refusal stays with its action).

#include "hi1_task_internal.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using namespace detail;

namespace {

// Wipes the sensitive text nodes of the document on every path out of the
// parser (declared after the document, so it runs before the document is freed).
class WipeOnExit {
public:
    explicit WipeOnExit(xmlDoc* doc) noexcept : doc_(doc) {}
    ~WipeOnExit() { wipe_sensitive_text(doc_); }
    WipeOnExit(const WipeOnExit&) = delete;
    WipeOnExit& operator=(const WipeOnExit&) = delete;

private:
    xmlDoc* doc_;
};

void set_refusal(Hi1TaskActionRequest& a, const Refusal& r) {
    a.refusal = Hi1Error{r.code, r.description};
    a.refusal_errc = r.errc;
    a.task.reset();
}

// A short, safe name for an object type in an error ("auth:AuthorisationObject"
// style, with the ETSI namespace abbreviated).
std::string type_label(const std::pair<std::string, std::string>& type) {
    static constexpr std::pair<const char*, const char*> kKnown[] = {
        {"http://uri.etsi.org/03120/common/2020/09/Authorisation", "Authorisation"},
        {"http://uri.etsi.org/03120/common/2020/09/Document", "Document"},
        {"http://uri.etsi.org/03120/common/2020/09/Task", "Task"},
        {"http://uri.etsi.org/03120/common/2019/10/Delivery", "Delivery"},
        {"http://uri.etsi.org/03120/common/2016/02/Notification", "Notification"},
        {"http://uri.etsi.org/03120/common/2022/07/TrafficPolicy", "TrafficPolicy"},
    };
    std::string schema = "another schema";
    for (const auto& [ns, label] : kKnown) {
        if (type.first == ns) {
            schema = std::string("TS 103 120 ") + label;
        }
    }
    return safe_name(xstr(type.second.c_str())) + " (" + schema + ")";
}

void read_create_update(xmlNode* op, bool create, Hi1TaskActionRequest& a) {
    xmlNode* object = child(op, kCoreNs, "HI1Object");
    const std::string path = a.path + "/HI1Object";
    const auto type = xsi_type(object);
    ReferenceKind kind{};
    if (type.first == kTaskNs && type.second == "LITaskObject") {
        kind = ReferenceKind::liid;
    } else if (type.first == kTaskNs && type.second == "LDTaskObject") {
        kind = ReferenceKind::ldid;
    } else {
        set_refusal(a, Refusal{hi1_error::kUnsupported, Errc::invalid_argument,
                               path + ": object type " + type_label(type) +
                                   " is not supported (only task:LITaskObject and task:LDTaskObject)"});
        return;
    }
    auto task = read_task_object(object, kind, create, path);
    if (!task) {
        set_refusal(a, task.error());
        return;
    }
    a.task = std::move(*task);
}

void read_list(xmlNode* op, Hi1TaskActionRequest& a) {
    for (const char* unsupported : {"LastChanged", "LastChangedTimespan", "CountryCode"}) {
        if (child(op, kCoreNs, unsupported) != nullptr) {
            set_refusal(a, Refusal{hi1_error::kUnsupported, Errc::invalid_argument,
                                   a.path + "/" + unsupported + ": this LIST filter is not supported"});
            return;
        }
    }
    if (xmlNode* type = child(op, kCoreNs, "ObjectType"); type != nullptr) {
        const std::string owner = text_of(child(type, kCommonNs, "Owner"));
        const std::string name = text_of(child(type, kCommonNs, "Name"));
        const std::string value = text_of(child(type, kCommonNs, "Value"));
        if (owner == "ETSI" && name == "ObjectType" && value == "Task") {
            a.list_kind = ReferenceKind::liid;
        } else if (owner == "ETSI" && name == "ObjectType" && value == "LDTask") {
            a.list_kind = ReferenceKind::ldid;
        } else {
            set_refusal(a, Refusal{hi1_error::kUnsupported, Errc::invalid_argument,
                                   a.path + "/ObjectType: only the ETSI ObjectType values Task and LDTask are listed"});
            return;
        }
    }
    if (xmlNode* status = child(op, kCoreNs, "Status"); status != nullptr) {
        a.list_status = text_of(child(status, kCommonNs, "Value"));
    }
    if (xmlNode* max = child(op, kCoreNs, "MaximumObjectCount"); max != nullptr) {
        auto n = parse_u64(text_of(max), a.path + "/MaximumObjectCount");
        if (!n) {
            set_refusal(a, Refusal{hi1_error::kInvalidTask, Errc::invalid_argument, n.error().context()});
            return;
        }
        a.list_max = *n;
    }
}

Hi1TaskActionRequest read_action(xmlNode* request, std::size_t position) {
    Hi1TaskActionRequest a;
    a.path = "ActionRequest[" + std::to_string(position) + "]";
    auto id = parse_u64(text_of(child(request, kCoreNs, "ActionIdentifier")), a.path + "/ActionIdentifier");
    if (!id) {
        set_refusal(a, Refusal{hi1_error::kInvalidTask, Errc::malformed_input, id.error().context()});
        return a;
    }
    a.action_identifier = *id;
    xmlNode* op = next_element(child(request, kCoreNs, "ActionIdentifier"));
    const std::string op_name = op != nullptr ? safe_name(op->name) : "?";
    a.path += "/" + op_name;
    if (is_element(op, kCoreNs, "CREATE") || is_element(op, kCoreNs, "UPDATE")) {
        const bool create = is_element(op, kCoreNs, "CREATE");
        a.action = create ? Hi1TaskAction::create : Hi1TaskAction::update;
        read_create_update(op, create, a);
    } else if (is_element(op, kCoreNs, "GET")) {
        a.action = Hi1TaskAction::get;
        a.identifier = text_trimmed(child(op, kCoreNs, "Identifier"));
    } else if (is_element(op, kCoreNs, "LIST")) {
        a.action = Hi1TaskAction::list;
        read_list(op, a);
    } else {
        a.action = Hi1TaskAction::unsupported;
        set_refusal(a, Refusal{hi1_error::kUnsupported, Errc::invalid_argument,
                               a.path + ": action not supported on the tasking interface (CREATE, UPDATE, GET, LIST)"});
    }
    return a;
}

}  // namespace

Result<Hi1TaskRequest> parse_hi1_task_request(std::string_view xml, const SchemaSet& schemas,
                                              const XmlLimits& limits) {
    auto doc = parse_xml(xml, limits);
    if (!doc) {
        return tl::unexpected(doc.error());
    }
    const WipeOnExit wipe(doc->get());
    auto checked = validated_hi1_root(*doc, schemas);
    if (!checked) {
        return tl::unexpected(checked.error());
    }
    xmlNode* root = *checked;
    xmlNode* payload = child(child(root, kCoreNs, "Payload"), kCoreNs, "RequestPayload");
    if (payload == nullptr) {
        return fail(Errc::malformed_input, "HI1Message is not a request (no RequestPayload)");
    }
    Hi1TaskRequest out;
    Hi1Header h = read_header(child(root, kCoreNs, "Header"));
    out.sender = std::move(h.sender);
    out.receiver = std::move(h.receiver);
    out.transaction_id = std::move(h.transaction_id);
    out.timestamp = std::move(h.timestamp);
    std::size_t position = 0;
    for (xmlNode* r = first_element(child(payload, kCoreNs, "ActionRequests")); r != nullptr; r = next_element(r)) {
        out.actions.push_back(read_action(r, position++));
    }
    return out;
}

Hi1TaskAnswer refused_answer(const Hi1TaskActionRequest& request) {
    Hi1TaskAnswer a;
    a.action_identifier = request.action_identifier;
    a.action = request.action;
    a.error = request.refusal.value_or(Hi1Error{hi1_error::kInternal, request.path + ": refused"});
    return a;
}

}  // namespace enclave::delivery
