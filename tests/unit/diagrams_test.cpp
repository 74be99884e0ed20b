// The state machine diagrams in docs/diagrams/ are generated from the transition tables, never
// drawn by hand: a table that changes without its diagram fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "statemachines/action_machine.h"
#include "statemachines/job_machine.h"
#include "statemachines/thread_machine.h"

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(Diagrams, TheDocsCarryTheDiagramOfEachTransitionTable) {
  for (const clubos::sm::Table* t :
       {&clubos::sm::ThreadMachine(), &clubos::sm::ActionMachine(), &clubos::sm::JobMachine()}) {
    const std::string name(t->name());
    const std::string path = std::string(CLUBOS_SOURCE_DIR) + "/docs/diagrams/" + name + ".dot";
    EXPECT_EQ(ReadFile(path), t->Dot())
        << path << " is stale: build/clubos statemachine dot " << name << " > " << path
        << " && dot -Grankdir=TB -Tsvg " << path << " -o docs/diagrams/" << name << ".svg";
  }
}
