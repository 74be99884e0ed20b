#include "app/bench_retrieval.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <stdexcept>

#include "app/bench_common.h"
#include "store/db.h"

namespace clubos::app {
namespace {

using Steady = std::chrono::steady_clock;
using nlohmann::json;

// splitmix64: a seeded sequence that is the same on every standard library (std::mt19937 is, but
// the distributions over it are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int Below(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(Below(static_cast<int>(v.size())))];
  }

 private:
  uint64_t s_;
};

struct Subject {
  const char* category;
  const char* action;
  const char* slug;
  const char* title;
  std::vector<std::string> triggers;  // the router's phrase language
  std::vector<std::string> facts;     // sentences of the body
};

// What a golf-simulator chain's knowledge is about: the shipped folder's subjects and the many
// the original system's operators wrote notes on.
const std::vector<Subject>& Subjects() {
  static const std::vector<Subject> s = {
      {"faq",
       "answer",
       "parking",
       "Parking",
       {"parking|park", "where to park", "car|cars|lot"},
       {"Free parking is behind the building; the front spots are for pick-up only.",
        "The lot fills up after 6pm on league nights, so street parking on the side road is fine.",
        "Overnight parking is not allowed and cars left after close may be towed."}},
      {"faq",
       "answer",
       "wifi",
       "Wifi",
       {"wifi|internet", "password", "network"},
       {"The guest network is Clubhouse-Guest and the password is on the card in every bay.",
        "The bay PCs are on their own network; please do not plug phones into them."}},
      {"faq",
       "answer",
       "lessons",
       "Lessons and coaching",
       {"lesson|lessons", "coach|coaching|instructor*", "pro|teaching"},
       {"Our coaches give 30 and 60 minute lessons on TrackMan with video of every swing.",
        "A lesson includes the bay, so you do not need a separate booking.",
        "Packages of five lessons come with a sixth free."}},
      {"faq",
       "answer",
       "leagues",
       "Leagues",
       {"league|leagues", "team|teams", "season*"},
       {"Winter leagues run for ten weeks with teams of two or four players.",
        "League nights are Tuesday and Thursday from 6pm; bays are held for league teams.",
        "Sign-up closes a week before the first night and costs per team, not per player."}},
      {"faq",
       "answer",
       "tournaments",
       "Tournaments",
       {"tournament*", "competition|contest", "closest to the pin|long drive"},
       {"Monthly tournaments are played on a famous course with a leaderboard on the big screen.",
        "Entry includes two hours of play and prizes go to the top three net scores."}},
      {"faq",
       "answer",
       "rentals",
       "Club rentals",
       {"rent|rental|rentals", "borrow", "left handed|lefty"},
       {"Every bay has a free set of house clubs, right and left handed.",
        "Premium fitted sets can be rented at the desk for a small fee per session."}},
      {"faq",
       "answer",
       "dress",
       "Dress code and shoes",
       {"dress code", "shoes|sneakers|cleats", "wear"},
       {"Wear whatever is comfortable; golf shoes are welcome but metal spikes are not.",
        "Please no bare feet on the hitting mats."}},
      {"faq",
       "answer",
       "kids",
       "Kids and juniors",
       {"kid|kids|child|children", "junior*", "age|ages|old enough"},
       {"Kids are welcome with an adult at all times; juniors under 16 play at half price.",
        "Junior camps run in March break and the summer, mornings only."}},
      {"faq",
       "answer",
       "alcohol",
       "Drinks and alcohol",
       {"beer|wine|alcohol|drinks", "licensed|liquor", "bar"},
       {"We are licensed: beer and wine are sold at the desk until an hour before close.",
        "Outside alcohol is not allowed; outside snacks are fine."}},
      {"faq",
       "answer",
       "parties",
       "Birthday parties",
       {"birthday*", "party|parties", "celebrat*"},
       {"Party packages include two bays for two hours, pizza and a host.",
        "Book parties at least a week ahead; a deposit holds the date."}},
      {"faq",
       "answer",
       "corporate",
       "Corporate events",
       {"corporate", "company|office|work event", "team building"},
       {"We host company events of up to 40 people with the whole floor reserved.",
        "Invoices can be sent to your company; ask for the events coordinator."}},
      {"faq",
       "answer",
       "refunds",
       "Refunds and credits",
       {"refund*", "credit|credits", "money back"},
       {"Refunds go back to the card used within five business days.",
        "Time lost to a technical problem is credited to your account, decided by the manager."}},
      {"faq",
       "answer",
       "cancellation",
       "Cancellation policy",
       {"cancel*", "cancellation policy", "no show"},
       {"Cancel up to 24 hours ahead at no charge in the app.",
        "Later cancellations and no-shows are charged half of the booking."}},
      {"faq",
       "answer",
       "lockers",
       "Lockers",
       {"locker|lockers", "store my clubs", "storage"},
       {"Club lockers rent by the month for members; there is a waiting list in winter.",
        "Day lockers by the washrooms are free; bring your own lock."}},
      {"faq",
       "answer",
       "lost",
       "Lost and found",
       {"lost|left behind", "found", "forgot"},
       {"Lost items are kept at the front desk for 30 days.",
        "Text us what you lost and which bay, and we will check the bin."}},
      {"faq",
       "answer",
       "accessibility",
       "Accessibility",
       {"wheelchair", "accessible|accessibility", "ramp"},
       {"The building has a ramp at the side entrance and an accessible washroom.",
        "Bay 1 has the most room around the tee for a wheelchair."}},
      {"faq",
       "answer",
       "courses",
       "Courses on the simulator",
       {"course|courses", "pebble|st andrews", "which courses"},
       {"TrackMan has over 200 courses, Pebble Beach and St Andrews among them.",
        "Pick the course at the start of a round; switching mid-round loses the score."}},
      {"faq",
       "answer",
       "stats",
       "Shot data and stats",
       {"stats|statistics|data", "ball speed|spin|carry", "email my"},
       {"Log in to the TrackMan app in the bay and every shot is saved to your profile.",
        "Session reports can be emailed from the bay screen at the end."}},
      {"faq",
       "answer",
       "putting",
       "Putting",
       {"putt|putts|putting", "green", "short game"},
       {"Putting is on in every bay; set it to auto-putt inside 3 feet to keep rounds moving.",
        "The practice green by the window is free while you wait."}},
      {"faq",
       "answer",
       "music",
       "Music and TV",
       {"music|speaker|bluetooth", "tv|game on|hockey", "sound"},
       {"Each bay has a Bluetooth speaker; keep the volume down for the next bay.",
        "The big screens show the game on request at the desk."}},
      {"tech",
       "reset_trackman",
       "trackman",
       "TrackMan not responding",
       {"trackman~ & not|wont|isnt working", "frozen|froze|freez*", "restart|reboot|reset"},
       {"Restart TrackMan Performance Studio on the bay PC; it fixes nearly all of these.",
        "Wait for the PC to report TrackMan running again before telling the customer.",
        "A bay restarted twice in 15 minutes has a problem a restart will not fix."}},
      {"tech",
       "none",
       "projector",
       "Projector problems",
       {"projector", "screen|image|picture", "flicker*|blurry|dim"},
       {"Check the projector's lamp light; amber means it needs a new lamp.",
        "A blurry image is usually the focus ring knocked by a club; refocus from the ladder.",
        "Never move the projector mount; the radar calibration depends on it."}},
      {"tech",
       "none",
       "pc",
       "Bay PC problems",
       {"pc|computer", "windows|update", "blue screen|black screen"},
       {"A Windows update restarting the PC takes about ten minutes; let it finish.",
        "Reboot the PC from NinjaOne if the screen stays black after the update."}},
      {"tech",
       "none",
       "audio",
       "Bay audio",
       {"audio|sound|speaker*", "no sound", "volume"},
       {"The bay's sound comes from the PC through the amplifier under the desk.",
        "If there is no sound, check the amplifier's input is set to PC."}},
      {"tech",
       "none",
       "ballfeeder",
       "Ball feeder and tee",
       {"ball feeder|auto tee", "tee|tees", "balls"},
       {"The auto tee jams when a cracked ball gets in; clear it with the power off.",
        "Spare balls are in the bin under each bay's desk."}},
      {"tech",
       "none",
       "mat",
       "Hitting mat and net",
       {"mat|mats", "net|netting", "hole|torn|ripped"},
       {"A torn hitting mat is a safety issue: close the bay until it is replaced.",
        "Holes in the side netting are patched with the kit in the storeroom."}},
      {"tech",
       "none",
       "lights",
       "Lights and power",
       {"light|lights", "power|outlet", "breaker|tripped"},
       {"The bay lights are on the panel by the storeroom, labelled by bay.",
        "A tripped breaker is reset once; if it trips again, call the electrician."}},
      {"tech",
       "none",
       "license",
       "TrackMan licence and login",
       {"licence|license", "login|log in|sign in", "account"},
       {"A licence error after an update is fixed by signing the bay out and back in.",
        "Customers log in with their own TrackMan account; the bay account is staff only."}},
      {"access",
       "unlock_door",
       "door",
       "Door code not working",
       {"door|doors", "code|keypad|pin", "locked out|cant get in"},
       {"Check the customer's booking is for now and at this location before unlocking.",
        "Unlock the front door for 30 seconds and tell the customer to pull, not push."}},
      {"access",
       "none",
       "sidedoor",
       "Side entrance",
       {"side door|side entrance", "back door", "fire door"},
       {"The side entrance is exit only except for accessible entry by arrangement.",
        "A propped fire door sets off the alarm panel at the desk after two minutes."}},
      {"access",
       "none",
       "gate",
       "Parking gate",
       {"gate", "barrier|arm", "ticket"},
       {"The parking gate opens from the desk tablet; ask the customer for the plate.",
        "After close the gate stays up until 2am."}},
      {"booking",
       "none",
       "change",
       "Changing a booking",
       {"move|change|switch my booking", "reschedule", "different time"},
       {"Bookings move in the app up to an hour before the start at no charge.",
        "Moving to a busier time can cost the difference in the rate."}},
      {"booking",
       "none",
       "extend",
       "Extending a session",
       {"extend|longer|more time", "another hour", "keep the bay"},
       {"A session can be extended if the next slot of the bay is free.",
        "Extensions are charged at the rate of the hour they fall in."}},
      {"booking",
       "none",
       "players",
       "Adding players",
       {"add|more players|people", "friend|friends", "how many"},
       {"Up to four players share a bay at the same price; six with the group add-on.",
        "Add players in the bay's TrackMan screen at the start of the round."}},
      {"booking",
       "none",
       "double",
       "Double booking",
       {"double booked|someone in my bay", "already taken", "wrong bay"},
       {"Check both bookings in the system; the earlier confirmation keeps the bay.",
        "Offer the other customer the next free bay and a credit for the wait."}},
      {"emergency",
       "none",
       "injury",
       "Injury in a bay",
       {"hurt|injured|injury", "bleeding|blood", "ambulance|911"},
       {"Call 911 first for anything serious, then the duty manager.",
        "The first aid kit is behind the desk; write down what happened and when."}},
      {"emergency",
       "none",
       "fire",
       "Fire alarm",
       {"fire|smoke", "alarm", "evacuat*"},
       {"Everyone leaves by the nearest exit and meets in the parking lot.",
        "Nobody goes back in until the fire department says so."}},
      {"emergency",
       "none",
       "water",
       "Water leak",
       {"leak|leaking|water", "flood*", "ceiling|roof"},
       {"Turn off the bay's power at the panel if water is near the PC or projector.",
        "The landlord's emergency line is on the board in the storeroom."}},
  };
  return s;
}

struct Qualifier {
  const char* title;    // appended to the subject's title ("" for none)
  const char* trigger;  // a phrase ("" for none)
  const char* fact;     // a sentence ("" for none)
};

const std::vector<Qualifier>& Qualifiers() {
  static const std::vector<Qualifier> q = {
      {"", "", ""},
      {"on weekends", "weekend|weekends|saturday|sunday",
       "On Saturdays and Sundays this applies from open to close."},
      {"for members", "member|members|membership",
       "Members get this at no extra charge; show the app at the desk."},
      {"on league nights", "league night*", "On league nights the desk is busier, so text first."},
      {"in winter", "winter|december|january|february",
       "In winter the hours are longer and the bays book out a week ahead."},
      {"on holidays", "holiday|holidays", "On statutory holidays the weekend rates apply."},
      {"for corporate groups", "corporate|company", "Company groups have one contact on site."},
      {"for juniors", "junior|juniors|kid|kids", "Juniors need an adult in the bay."},
      {"late at night", "late|night|after close", "After 10pm there is one person on site."},
      {"for first visits", "first time|new here", "First-time visitors get a short walkthrough."},
      {"during tournaments", "tournament|tournaments", "Tournament bays are held until 15 past."},
      {"for big groups", "group|groups|large party", "Groups over eight need two bays."},
      {"by text", "text|texting|message", "We answer texts within a few minutes while open."},
      {"in the app", "app|online", "Everything here can also be done in the app."},
  };
  return q;
}

const std::vector<std::string>& Locations() {
  static const std::vector<std::string> l = {
      "bedford",     "dartmouth",  "halifax",     "truro",         "moncton",
      "fredericton", "saint-john", "sydney",      "charlottetown", "kentville",
      "antigonish",  "yarmouth",   "bridgewater", "wolfville",     "amherst",
      "new-glasgow", "lunenburg",  "digby",       "windsor",       "pictou"};
  return l;
}

// Sentences any note may carry, with a few details filled in.
std::string GeneralSentence(Rng& rng) {
  static const std::vector<std::string> days = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                "Friday", "Saturday", "Sunday"};
  static const std::vector<std::string> times = {"9am", "11am", "noon", "2pm", "5pm", "7pm", "9pm"};
  const std::string day = rng.Pick(days), time = rng.Pick(times);
  const std::string bay = std::to_string(1 + rng.Below(8));
  const std::string price = std::to_string(10 + 5 * rng.Below(12));
  static const std::vector<std::string> people = {"the duty manager", "the on-call operator",
                                                  "the front desk", "the owner", "maintenance"};
  const std::string who = rng.Pick(people);
  switch (rng.Below(30)) {
    case 16:
      return "Ask " + who + " before making an exception.";
    case 17:
      return "Since " + day + " " + who + " handles this at every location.";
    case 18:
      return "Expect a wait of about " + price + " minutes at peak times.";
    case 19:
      return "Leave a note in the booking so that " + who + " sees it.";
    case 20:
      return "Customers who mention this twice in a week should get a call from " + who + ".";
    case 21:
      return "Between " + time + " and close, the quickest answer is a text back.";
    case 22:
      return "Screenshots from the customer help; ask for one when it is unclear.";
    case 23:
      return "Bay " + bay + " has a different setup, so check it separately.";
    case 24:
      return "Keep the tone friendly and short: one or two sentences per text.";
    case 25:
      return "A repeat visitor may know the old way; explain that it changed.";
    case 26:
      return "Confirm the customer's name and time before changing anything.";
    case 27:
      return "On " + day + "s the cleaners are in from " + time + ", mind the cables.";
    case 28:
      return "Groups of more than " + bay + " should be told about the group rate.";
    case 29:
      return "Mention the loyalty points: every $" + price + " spent earns one.";
    case 0:
      return "Staff on site can help from " + time + " until close.";
    case 1:
      return "Call the front desk if nothing here works and say which bay you are in.";
    case 2:
      return "Bay " + bay + " is usually the quietest on " + day + "s.";
    case 3:
      return "The fee is $" + price + " and goes on the card used for the booking.";
    case 4:
      return "Reply to this text with the name on the booking and we will sort it out.";
    case 5:
      return "If the customer is upset or asks for a person, hand the thread to a human.";
    case 6:
      return "Do not promise a refund; the manager decides credits.";
    case 7:
      return "Write down what was tried and when, so that the next shift knows.";
    case 8:
      return "This changed on " + day + "; older notes that say otherwise are out of date.";
    case 9:
      return "Most visitors ask about this before their first session.";
    case 10:
      return "Prices and times can change on holidays; the app shows the current ones.";
    case 11:
      return "The duty manager's number is on the board behind the desk.";
    case 12:
      return "Check the booking system first: the answer is often in the booking notes.";
    case 13:
      return "Bays " + bay + " and up are upstairs, past the lounge.";
    case 14:
      return "From " + time + " on " + day + "s the staff are also running the bar.";
    default:
      return "Tell the customer how long it will take before starting.";
  }
}

// A header value quoted as the knowledge format writes it.
std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// `ms` holds rounds of one sample per text, in the texts' order.
json Figures(const std::vector<double>& ms, int64_t entries,
             const std::vector<std::string>& texts) {
  // The texts slowest at their median over the rounds: where a tail comes from.
  std::vector<std::pair<double, std::size_t>> by_text;
  for (std::size_t t = 0; t < texts.size(); ++t) {
    std::vector<double> own;
    for (std::size_t i = t; i < ms.size(); i += texts.size()) own.push_back(ms[i]);
    by_text.emplace_back(Percentile(own, 0.5), t);
  }
  std::sort(by_text.rbegin(), by_text.rend());
  json slowest = json::array();
  for (std::size_t i = 0; i < std::min<std::size_t>(5, by_text.size()); ++i)
    slowest.push_back({{"text", texts[by_text[i].second]}, {"median_ms", by_text[i].first}});
  return {{"entries", entries},
          {"samples", ms.size()},
          {"p50_ms", Percentile(ms, 0.50)},
          {"p95_ms", Percentile(ms, 0.95)},
          {"p99_ms", Percentile(ms, 0.99)},
          {"max_ms", Percentile(ms, 1.0)},
          {"slowest_texts", slowest}};
}

struct RolledBack {};

}  // namespace

std::vector<workflows::KnowledgeFile> SyntheticKnowledge(int count, uint64_t seed) {
  Rng rng(seed);
  const auto& subjects = Subjects();
  const auto& qualifiers = Qualifiers();
  const auto& locations = Locations();
  std::vector<workflows::KnowledgeFile> files;
  for (int i = 0; i < count; ++i) {
    const Subject& s = rng.Pick(subjects);
    const Qualifier& q = rng.Pick(qualifiers);
    char number[16];
    std::snprintf(number, sizeof number, "%05d", i);
    const std::string id = std::string(s.category) + ".bench-" + s.slug + "-" + number;

    // A third of the entries apply everywhere; the others to one to three locations, the first
    // of which a quarter of the titles name.
    std::vector<std::string> at;
    if (rng.Below(3) != 0)
      for (int n = 1 + rng.Below(3); static_cast<int>(at.size()) < n;) {
        const std::string& l = rng.Pick(locations);
        if (std::find(at.begin(), at.end(), l) == at.end()) at.push_back(l);
      }
    std::string title = s.title;
    if (*q.title) title += std::string(" ") + q.title;
    if (!at.empty() && rng.Below(4) == 0) title = at.front() + ": " + title;

    std::set<std::string> triggers;
    for (int n = 1 + rng.Below(static_cast<int>(s.triggers.size())); n > 0; --n)
      triggers.insert(rng.Pick(s.triggers));
    if (*q.trigger) triggers.insert(q.trigger);
    std::string trigger_list;
    for (const auto& t : triggers) trigger_list += (trigger_list.empty() ? "" : ", ") + Quoted(t);

    // Answers are texts (at most 1,600 characters); procedures and notes run longer.
    const bool answer = std::string(s.action) == "answer";
    const std::size_t target =
        static_cast<std::size_t>(answer ? 120 + rng.Below(1100) : 300 + rng.Below(2700));
    std::string body;
    std::vector<std::string> facts = s.facts;
    if (*q.fact) facts.emplace_back(q.fact);
    // The subject's facts once each, from a random one on, among sentences any note may carry.
    const std::size_t first = static_cast<std::size_t>(rng.Below(static_cast<int>(facts.size())));
    std::size_t used = 0;
    while (body.size() < target) {
      const bool fact = used < facts.size() && rng.Below(2) == 0;
      const std::string sentence =
          fact ? facts[(first + used++) % facts.size()] : GeneralSentence(rng);
      if (answer && body.size() + sentence.size() + 2 > 1500) break;
      body += (body.empty() ? "" : (rng.Below(4) == 0 ? "\n\n" : " ")) + sentence;
    }
    std::string locations_value = "all";
    if (!at.empty()) {
      locations_value = "[";
      for (std::size_t l = 0; l < at.size(); ++l) locations_value += (l ? ", " : "") + at[l];
      locations_value += "]";
    }
    const std::string requires_value =
        std::string(s.action) == "reset_trackman" ? "[bay_named]" : "[]";
    files.push_back({id + ".md", "---\nid: " + id + "\ntitle: " + Quoted(title) + "\ncategory: " +
                                     s.category + "\nlocations: " + locations_value +
                                     "\ntriggers: [" + trigger_list + "]\naction: " + s.action +
                                     "\nfallback: escalate\nrequires: " + requires_value +
                                     "\n---\n" + body + "\n"});
  }
  return files;
}

json RunRetrievalBench(const std::string& url, const std::vector<std::string>& texts,
                       const RetrievalBenchOptions& options) {
  auto conn = store::Connect(url);
  json out = json::object();
  // One unmeasured pass prepares the statement and warms the caches; then `rounds` measured.
  json retrieved = json::object();  // what the warm-up pass found, for --retrieval-dump
  auto measure = [&](store::Tx& tx, const char* name) {
    std::vector<double> ms;
    json& found_by_text = retrieved[name] = json::array();
    for (int round = 0; round <= options.rounds; ++round)
      for (const auto& text : texts) {
        const auto begin = Steady::now();
        const auto found = workflows::RetrieveKnowledge(tx, options.location, text);
        const double took =
            std::chrono::duration<double, std::milli>(Steady::now() - begin).count();
        if (round > 0) {
          ms.push_back(took);
          continue;
        }
        json ids = json::array();
        for (const auto& f : found) ids.push_back(f.id);
        found_by_text.push_back({{"text", text}, {"found", ids}});
      }
    return ms;
  };
  // The import below is rolled back, which leaves its thousands of rows dead in the GIN indexes:
  // every search reads through them (and checks each against the table) until a vacuum. Without
  // these, each run measured the dead rows of the one before it (the 9 shipped entries' p99 went
  // from 1.2 to 10 ms over five runs on a quiet machine), and the product's own searches paid for
  // a bench run until autovacuum came by. Vacuuming changes no data.
  auto vacuum = [&] {
    conn->ExecRawOne("VACUUM ANALYZE knowledge_documents");
    conn->ExecRawOne("VACUUM ANALYZE knowledge_versions");
  };
  vacuum();
  auto active = [](store::Tx& tx) {
    return tx.ExecRaw("SELECT count(*) FROM knowledge_documents").At(0, 0).Int64();
  };
  try {
    conn->Transact("bench_retrieval", [&](store::Tx& tx) {
      const int64_t shipped = active(tx);
      const auto baseline = measure(tx, "shipped");
      const auto report =
          workflows::ImportKnowledge(tx, SyntheticKnowledge(options.synthetic, options.seed));
      if (report.Count("added") != options.synthetic)
        throw std::runtime_error("the synthetic documents were not all new (" +
                                 std::to_string(report.Count("added")) + " of " +
                                 std::to_string(options.synthetic) + ")");
      // As autovacuum would after an import: the planner sees the table as it now is.
      tx.ExecRaw("ANALYZE knowledge_documents");
      tx.ExecRaw("ANALYZE knowledge_versions");
      const auto loaded = measure(tx, "with_synthetic");
      out = {{"location", options.location},
             {"texts", texts.size()},
             {"rounds", options.rounds},
             {"seed", options.seed},
             {"shipped", Figures(baseline, shipped, texts)},
             {"with_synthetic", Figures(loaded, active(tx), texts)}};
      throw RolledBack{};
    });
  } catch (const RolledBack&) {
  }
  vacuum();
  if (!options.dump_path.empty()) {
    std::ofstream dump(options.dump_path, std::ios::trunc);
    dump << retrieved.dump(1) << "\n";
    if (!dump) throw std::runtime_error(options.dump_path + ": cannot be written");
  }
  return out;
}

}  // namespace clubos::app
