#pragma once
// Holds an answer of the server to what docs/openapi.json promises for it: the subset of JSON
// Schema the document uses ($ref, allOf, oneOf, type, enum, required, properties, items). An
// object schema that lists properties is closed: a property the server answers with and the
// document does not list is a problem too (unless it says additionalProperties).
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace clubos::openapi {

using nlohmann::json;

inline const json& Document() {
  static const json doc = [] {
    std::ifstream f(std::string(CLUBOS_SOURCE_DIR) + "/docs/openapi.json");
    std::stringstream text;
    text << f.rdbuf();
    return json::parse(text.str());
  }();
  return doc;
}

inline const json& Resolve(const json& schema) {
  if (!schema.is_object() || !schema.contains("$ref")) return schema;
  const std::string ref = schema["$ref"].get<std::string>();
  const std::string prefix = "#/components/schemas/";
  return Resolve(Document().at("components").at("schemas").at(ref.substr(prefix.size())));
}

// Property names a schema documents, through allOf; `open` when it allows any others.
inline void Documented(const json& s, std::set<std::string>& names, bool& open) {
  const json& schema = Resolve(s);
  if (schema.contains("additionalProperties") && schema["additionalProperties"] != false)
    open = true;
  if (schema.contains("properties"))
    for (const auto& [name, _] : schema["properties"].items()) names.insert(name);
  if (schema.contains("allOf"))
    for (const auto& part : schema["allOf"]) Documented(part, names, open);
}

inline bool HasType(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  return false;
}

inline void Check(const json& s, const json& value, const std::string& where,
                  std::vector<std::string>& problems, bool closed = true) {
  const json& schema = Resolve(s);
  if (schema.contains("allOf"))
    for (const auto& part : schema["allOf"]) Check(part, value, where, problems, false);
  if (schema.contains("oneOf")) {
    bool any = false;
    for (const auto& option : schema["oneOf"]) {
      std::vector<std::string> p;
      Check(option, value, where, p);
      any = any || p.empty();
    }
    if (!any) problems.push_back(where + ": matches none of its oneOf schemas: " + value.dump());
  }
  if (schema.contains("type")) {
    const json& t = schema["type"];
    bool ok = false;
    for (const auto& type : t.is_array() ? t : json::array({t}))
      ok = ok || HasType(value, type.get<std::string>());
    if (!ok) {
      problems.push_back(where + ": is " + value.dump().substr(0, 80) + ", documented as " +
                         t.dump());
      return;
    }
  }
  if (schema.contains("enum") &&
      std::find(schema["enum"].begin(), schema["enum"].end(), value) == schema["enum"].end())
    problems.push_back(where + ": " + value.dump() + " is not one of " + schema["enum"].dump());
  if (value.is_object()) {
    if (schema.contains("required"))
      for (const auto& name : schema["required"])
        if (!value.contains(name.get<std::string>()))
          problems.push_back(where + ": the required property " + name.get<std::string>() +
                             " is missing");
    if (schema.contains("properties"))
      for (const auto& [name, sub] : schema["properties"].items())
        if (value.contains(name)) Check(sub, value[name], where + "." + name, problems);
    if (closed) {
      std::set<std::string> names;
      bool open = false;
      Documented(schema, names, open);
      if (!open && !names.empty())
        for (const auto& [name, _] : value.items())
          if (!names.count(name))
            problems.push_back(where + ": the property " + name + " is not documented");
    }
  }
  if (value.is_array() && schema.contains("items"))
    for (std::size_t i = 0; i < value.size(); ++i)
      Check(schema["items"], value[i], where + "[" + std::to_string(i) + "]", problems);
}

// What is wrong with `body` as the answer `status` to `method` `path` (OpenAPI form:
// /v1/threads/{id}) by docs/openapi.json; empty when it holds.
inline std::vector<std::string> Problems(const std::string& method, const std::string& path,
                                         int status, const json& body) {
  std::vector<std::string> problems;
  const json& paths = Document().at("paths");
  if (!paths.contains(path) || !paths[path].contains(method))
    return {method + " " + path + " is not documented"};
  const json& responses = paths[path][method].at("responses");
  const std::string code = std::to_string(status);
  if (!responses.contains(code))
    return {method + " " + path + " does not document the answer " + code};
  const json& answer = responses[code];
  if (!answer.contains("content") || !answer["content"].contains("application/json")) return {};
  Check(answer["content"].at("application/json").at("schema"), body,
        method + " " + path + " " + code, problems);
  return problems;
}

}  // namespace clubos::openapi
