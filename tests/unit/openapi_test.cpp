// docs/openapi.json documents exactly the routes the API registers (api::RouteTable()), each with
// its path parameters and the error shape, and every answer object says which properties it always
// has (the API tests hold real answers to those shapes: tests/support/openapi_shape.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "api/api.h"
#include "tests/support/openapi_shape.h"
#include "tests/support/source_file.h"

using nlohmann::json;

namespace {

json LoadDoc() {
  return json::parse(clubos::testsupport::ReadSourceFile("docs/openapi.json"));
}

// "/v1/actions/:id/confirm" -> "/v1/actions/{id}/confirm"
std::string OpenApiPath(const std::string& pattern) {
  return std::regex_replace(pattern, std::regex(":([a-z_]+)"), "{$1}");
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

TEST(OpenApi, ListsEveryRouteOfTheServerAndNoOther) {
  const json doc = LoadDoc();
  ASSERT_EQ(doc.at("openapi").get<std::string>().substr(0, 2), "3.");
  std::set<std::pair<std::string, std::string>> documented, served;
  for (const auto& [path, item] : doc.at("paths").items())
    for (const auto& [method, op] : item.items()) documented.insert({method, path});
  for (const auto& r : clubos::api::RouteTable())
    served.insert({Lower(r.method), OpenApiPath(r.pattern)});
  for (const auto& s : served)
    EXPECT_TRUE(documented.count(s))
        << s.first << " " << s.second << " is not in docs/openapi.json";
  for (const auto& d : documented)
    EXPECT_TRUE(served.count(d)) << d.first << " " << d.second << " is documented but not served";
  EXPECT_EQ(served.size(), clubos::api::RouteTable().size()) << "a route is registered twice";
}

TEST(OpenApi, EveryOperationDeclaresItsPathParametersAndAnswers) {
  const json doc = LoadDoc();
  for (const auto& [path, item] : doc.at("paths").items()) {
    std::set<std::string> in_path;
    const std::regex param("\\{([a-z_]+)\\}");
    for (auto it = std::sregex_iterator(path.begin(), path.end(), param);
         it != std::sregex_iterator(); ++it)
      in_path.insert((*it)[1]);
    for (const auto& [method, op] : item.items()) {
      std::set<std::string> declared;
      if (op.contains("parameters"))
        for (const auto& p : op.at("parameters"))
          if (p.at("in") == "path") declared.insert(p.at("name").get<std::string>());
      EXPECT_EQ(declared, in_path) << method << " " << path;
      ASSERT_TRUE(op.contains("responses")) << method << " " << path;
      EXPECT_FALSE(op.at("responses").empty()) << method << " " << path;
      EXPECT_TRUE(op.contains("operationId")) << method << " " << path;
    }
  }
  EXPECT_TRUE(doc.at("components").at("schemas").contains("Error"));
}

namespace {

// Object schemas an answer can take (through $ref, allOf, oneOf, items and properties).
void AnswerObjects(const json& s, const std::string& where,
                   std::vector<std::pair<std::string, json>>& out, int depth = 0) {
  if (depth > 12) return;
  const json& schema = clubos::openapi::Resolve(s);
  for (const char* list : {"allOf", "oneOf"})
    if (schema.contains(list))
      for (const auto& part : schema[list]) AnswerObjects(part, where, out, depth + 1);
  if (schema.contains("items")) AnswerObjects(schema["items"], where + "[]", out, depth + 1);
  if (schema.contains("properties") && !schema["properties"].empty()) {
    out.emplace_back(where, schema);
    for (const auto& [name, sub] : schema["properties"].items())
      AnswerObjects(sub, where + "." + name, out, depth + 1);
  }
}

}  // namespace

// An answer's shape is held to the server by the API tests (tests/support/openapi_shape.h):
// for that, every object an answer documents says which of its properties are always there.
TEST(OpenApi, EveryAnswerSaysWhichPropertiesItAlwaysHas) {
  const json& doc = clubos::openapi::Document();
  for (const auto& [path, item] : doc.at("paths").items())
    for (const auto& [method, op] : item.items())
      for (const auto& [status, answer] : op.at("responses").items()) {
        if (status[0] != '2' || !answer.contains("content") ||
            !answer["content"].contains("application/json"))
          continue;
        std::vector<std::pair<std::string, json>> objects;
        AnswerObjects(answer["content"].at("application/json").at("schema"),
                      method + " " + path + " " + status, objects);
        for (const auto& [where, schema] : objects) {
          EXPECT_TRUE(schema.contains("required")) << where << " lists no required properties";
          if (!schema.contains("required")) continue;
          for (const auto& name : schema["required"])
            EXPECT_TRUE(schema["properties"].contains(name.get<std::string>()))
                << where << " " << name;
        }
      }
}

TEST(OpenApi, TheShapeCheckFindsMissingWrongAndUndocumentedProperties) {
  using clubos::openapi::Problems;
  const json summary = {{"id", 1},
                        {"state", "escalated"},
                        {"location", "b"},
                        {"customer", "***0100"},
                        {"priority", 50},
                        {"category", "tech"},
                        {"escalation_reason", "rapid_messages"},
                        {"claimed_by", nullptr},
                        {"created_at", "2026-11-21T12:00:00.000000Z"},
                        {"updated_at", "2026-11-21T12:00:00.000000Z"}};
  const json page = {{"items", json::array({summary})}, {"next", nullptr}};
  EXPECT_TRUE(Problems("get", "/v1/threads", 200, page).empty());
  json missing = page;
  missing["items"][0].erase("category");
  EXPECT_EQ(Problems("get", "/v1/threads", 200, missing).size(), 1u);
  json extra = page;
  extra["items"][0]["surprise"] = 1;
  EXPECT_EQ(Problems("get", "/v1/threads", 200, extra).size(), 1u);
  json wrong = page;
  wrong["items"][0]["escalation_reason"] = "because";
  EXPECT_EQ(Problems("get", "/v1/threads", 200, wrong).size(), 1u) << "not a documented reason";
  wrong = page;
  wrong["items"][0]["priority"] = "high";
  EXPECT_EQ(Problems("get", "/v1/threads", 200, wrong).size(), 1u);
  EXPECT_FALSE(Problems("get", "/v1/threads", 299, page).empty()) << "an undocumented status";
  EXPECT_TRUE(
      Problems("get", "/v1/threads/{id}", 404, json{{"error", {{"code", "x"}, {"message", "y"}}}})
          .empty());
}
