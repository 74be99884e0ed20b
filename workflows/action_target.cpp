#include <algorithm>

#include "core/text.h"
#include "workflows/action_row.h"
#include "workflows/errors.h"

namespace clubos::workflows {

using nlohmann::json;

// The target as the facility knows it: the caller names a bay or a door of a location; the
// action carries the vendor's device id too, resolved here once.
json ResolveTarget(const Config& config, const std::string& kind, const std::string& text) {
  const json in = json::parse(text, nullptr, false);
  if (in.is_discarded() || !in.is_object()) throw InvalidInput("target must be a JSON object");
  if (!in.contains("location") || !in["location"].is_string())
    throw InvalidInput("target.location must be a location id");
  const std::string loc_id = in["location"].get<std::string>();
  const Location* loc = config.FindLocation(loc_id);
  if (!loc) throw InvalidInput("target.location '" + loc_id + "' is not in the facility");
  json out = {{"location", loc->id}};
  if (kind == "reset_trackman" || kind == "reboot_pc") {
    if (!in.contains("bay") || !in["bay"].is_number_integer())
      throw InvalidInput(kind + " needs target.bay (a bay number)");
    // Read as the widest integer: bay 2^32+2 is no bay, not bay 2.
    const int64_t wide = in["bay"].is_number_unsigned() && in["bay"].get<uint64_t>() > INT64_MAX
                             ? -1
                             : in["bay"].get<int64_t>();
    const Bay* bay =
        wide >= 0 && wide <= INT32_MAX ? loc->FindBay(static_cast<int>(wide)) : nullptr;
    if (!bay) throw InvalidInput("bay " + in["bay"].dump() + " is not a bay of " + loc->name);
    const int number = bay->number;
    out["bay"] = number;
    out["device_id"] = bay->device_id;
    out["control"] = bay->control;
  } else if (kind == "unlock_door") {
    if (!in.contains("door") || !in["door"].is_string())
      throw InvalidInput("unlock_door needs target.door (a door id)");
    const std::string door_id = in["door"].get<std::string>();
    const auto door = std::find_if(loc->doors.begin(), loc->doors.end(),
                                   [&](const Door& d) { return d.id == door_id; });
    if (door == loc->doors.end())
      throw InvalidInput("door '" + door_id + "' is not a door of " + loc->name);
    out["door"] = door->id;
    out["device_id"] = door->device_id;
  } else if (kind == "send_message") {
    if (!in.contains("phone") || !in["phone"].is_string() ||
        !IsE164(in["phone"].get<std::string>()))
      throw InvalidInput("send_message needs target.phone (E.164)");
    if (config.LocationForLine(in["phone"].get<std::string>()))
      throw InvalidInput("target.phone is one of the facility's own lines");
    out["phone"] = in["phone"];
    std::string line = loc->phone_lines.empty() ? "" : loc->phone_lines.front();
    if (in.contains("from_line")) {
      if (!in["from_line"].is_string()) throw InvalidInput("target.from_line must be a string");
      line = in["from_line"].get<std::string>();
      if (std::find(loc->phone_lines.begin(), loc->phone_lines.end(), line) ==
          loc->phone_lines.end())
        throw InvalidInput("from_line " + line + " is not a line of " + loc->name);
    }
    if (line.empty()) throw InvalidInput(loc->name + " has no phone line to send from");
    out["from_line"] = line;
  }
  return out;
}

}  // namespace clubos::workflows
