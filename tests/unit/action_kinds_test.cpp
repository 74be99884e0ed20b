// The one catalogue of action kinds (core/action_kinds.h) against what else names them: the
// database's CHECK on actions.kind and the flow's job kinds.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "core/action_kinds.h"
#include "tests/support/source_file.h"
#include "workflows/flow.h"

TEST(ActionKinds, TheCatalogueIsTheDatabasesListOfKinds) {
  const std::string schema = clubos::testsupport::ReadSourceFile("schema/schema.sql");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      schema, m,
      std::regex(R"(actions_kind_check CHECK \(\(kind = ANY \(ARRAY\[([^\]]*)\]\)\)\))")))
      << "no actions_kind_check in schema/schema.sql";
  std::set<std::string> in_db;
  const std::string list = m[1].str();
  const std::regex name(R"('([a-z_]+)'::text)");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), name); it != std::sregex_iterator();
       ++it)
    in_db.insert((*it)[1].str());
  std::set<std::string> catalogue;
  for (const auto& k : clubos::kActionKinds) catalogue.insert(std::string(k.name));
  EXPECT_EQ(catalogue, in_db);
}

TEST(ActionKinds, EachKindRunsAsAJobOfTheFlowAndPhysicalOnesHaveACategory) {
  using namespace clubos;
  for (const auto& k : kActionKinds) {
    EXPECT_TRUE(k.job == workflows::kExecuteAction || k.job == workflows::kSendMessage) << k.name;
    EXPECT_EQ(k.physical, !k.category.empty()) << k.name << ": the gate reads its category's rules";
    EXPECT_FALSE(k.physical && k.says) << k.name;
    EXPECT_FALSE(k.physical && k.vendor_idempotent)
        << k.name << ": a physical call is looked at, never repeated blind";
    EXPECT_FALSE(k.verified_by.empty()) << k.name << ": every action is verified by something";
    EXPECT_EQ(FindActionKind(k.name), &k);
  }
  EXPECT_EQ(FindActionKind("launch_rocket"), nullptr);
  EXPECT_FALSE(IsPhysicalKind("send_message"));
  EXPECT_TRUE(IsPhysicalKind("unlock_door"));
  EXPECT_EQ(CategoryOfKind("reboot_pc"), "tech");
}
