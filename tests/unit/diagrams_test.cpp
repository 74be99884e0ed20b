// The state machine diagrams in docs/diagrams/ are generated from the transition tables, never
// drawn by hand: a table that changes without its diagram fails here.
#include <gtest/gtest.h>

#include <string>

#include "statemachines/action_machine.h"
#include "statemachines/job_machine.h"
#include "statemachines/thread_machine.h"
#include "tests/support/source_file.h"

TEST(Diagrams, TheDocsCarryTheDiagramOfEachTransitionTable) {
  for (const clubos::sm::Table* t :
       {&clubos::sm::ThreadMachine(), &clubos::sm::ActionMachine(), &clubos::sm::JobMachine()}) {
    const std::string name(t->name());
    const std::string path = "docs/diagrams/" + name + ".dot";
    EXPECT_EQ(clubos::testsupport::ReadSourceFile(path), t->Dot())
        << path << " is stale: build/clubos statemachine dot " << name << " > " << path
        << " && dot -Grankdir=TB -Tsvg " << path << " -o docs/diagrams/" << name << ".svg";
  }
}
