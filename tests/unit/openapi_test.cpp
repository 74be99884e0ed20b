// docs/openapi.json documents exactly the routes the API registers (api::RouteTable()), each with
// its path parameters and the error shape.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "api/api.h"

using nlohmann::json;

namespace {

json LoadDoc() {
  std::ifstream f(std::string(CLUBOS_SOURCE_DIR) + "/docs/openapi.json");
  std::stringstream text;
  text << f.rdbuf();
  return json::parse(text.str());
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
