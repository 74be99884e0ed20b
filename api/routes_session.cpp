// Operators as people: logging in (a session cookie and its CSRF token), logging out, who am I,
// and the admins' user management. The session is checked for every route in Authorize (api.cpp);
// these are the routes that make and end one.
#include "api/accounts.h"
#include "api/dto.h"
#include "api/internal.h"
#include "core/log.h"
#include "core/time_format.h"

namespace clubos::api {
namespace {

std::string Field(const json& j, const char* key, std::size_t max) {
  if (!j.contains(key) || !j[key].is_string())
    throw BadRequest(std::string(key) + " (a string) is required");
  std::string v = j[key].get<std::string>();
  if (v.size() > max) throw BadRequest(std::string(key) + " is too long");
  return v;
}

void RequireAdmin(const Principal& p) {
  if (!p.Has(Role::kAdmin))
    throw ApiError(403, "forbidden", "operator accounts are admins' to manage");
}

json UserJson(const User& u) {
  return {{"name", u.name},
          {"role", ToString(u.role)},
          {"disabled", u.disabled},
          {"created_at", FormatIso8601(u.created_at)},
          {"last_login_at", u.last_login_at ? json(FormatIso8601(*u.last_login_at)) : json()}};
}

}  // namespace

std::string SessionCookie(const ApiServer::Impl& api, const Request& r, const std::string& token,
                          std::optional<Millis> max_age) {
  std::string c = std::string(kSessionCookie) + "=" + token +
                  "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                  std::to_string(max_age ? max_age->count() / 1000 : 0);
  // Secure behind TLS: the proxy that terminates it says so, or the operator of the server does.
  if (api.opt.secure_cookies || r.Header("x-forwarded-proto").value_or("") == "https")
    c += "; Secure";
  return c;
}

// POST /v1/session {"name","password"}: one answer for every wrong part (name, password,
// disabled), and a limit on failures per account and per address.
Response PostSession(ApiServer::Impl& api, const Request& r, const Principal&) {
  // A login from another site's page (login CSRF) is refused: a cross-site form cannot send JSON,
  // and a sandboxed frame's Origin is "null".
  api.CheckSameOrigin(r);
  if (r.Header("origin").value_or("") == "null")
    throw ApiError(403, "cross_origin", "a request from another site is refused");
  if (r.Header("content-type").value_or("").rfind("application/json", 0) != 0)
    throw ApiError(415, "unsupported_media_type", "the login is a JSON body (application/json)");
  const json j = dto::Object(r.body);
  const std::string name = Field(j, "name", 64);
  const std::string password = Field(j, "password", kMaxPasswordBytes);
  api.CheckAuthThrottle(r);
  // Per account and address: a guesser is stopped on the accounts it tries, but cannot lock an
  // operator out from elsewhere (a lock by name alone would let anyone keep everyone out).
  // A name that cannot be an account is not tracked at all.
  const std::string account_key = "login:" + name + "@" + r.peer;
  if (const auto wait = api.login_failures.Blocked(account_key)) {
    ApiError e(429, "too_many_failures",
               "too many failed logins for this account from here; retry later");
    e.headers.emplace_back("Retry-After",
                           std::to_string(std::max<int64_t>(1, (wait->count() + 999) / 1000)));
    throw e;
  }
  auto db = api.Db();
  const auto session = api.accounts.Login(*db, name, password);
  if (!session) {
    api.AuthFailed(r);
    if (name.size() <= kMaxUserNameBytes) api.login_failures.Failed(account_key);
    log::Get()->warn("login refused from {}", r.peer);  // never the password, nor which part
    throw ApiError(401, "invalid_credentials", "wrong name or password");
  }
  const auto ttl = std::chrono::duration_cast<Millis>(session->expires_at - api.clock.Now());
  Response res =
      JsonResponse(200, json{{"user", {{"name", session->name}, {"role", ToString(session->role)}}},
                             {"csrf_token", session->csrf},
                             {"expires_at", FormatIso8601(session->expires_at)}});
  res.headers.emplace_back("Set-Cookie", SessionCookie(api, r, session->token, ttl));
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

Response GetSession(ApiServer::Impl& api, const Request& r, const Principal& p) {
  json csrf = nullptr;
  json expires = nullptr;
  if (const auto token = SessionToken(r); token && !r.Header("authorization")) {
    auto db = api.Db();
    if (const auto s = api.accounts.Find(*db, *token)) {
      csrf = s->csrf;
      expires = FormatIso8601(s->expires_at);
    }
  }
  if (p.role == Role::kDev) csrf = "";
  Response res = JsonResponse(200, json{{"user", {{"name", p.name}, {"role", ToString(p.role)}}},
                                        {"csrf_token", csrf},
                                        {"expires_at", expires}});
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

Response DeleteSession(ApiServer::Impl& api, const Request& r, const Principal&) {
  if (const auto token = SessionToken(r)) {
    auto db = api.Db();
    api.accounts.Logout(*db, *token);
  }
  Response res{204, "application/json", "", {}};
  res.headers.emplace_back("Set-Cookie", SessionCookie(api, r, "", std::nullopt));
  return res;
}

Response ListUsers(ApiServer::Impl& api, const Request&, const Principal& p) {
  RequireAdmin(p);
  auto db = api.Db();
  json items = json::array();
  for (const auto& u : api.accounts.List(*db)) items.push_back(UserJson(u));
  return JsonResponse(200, json{{"items", items}, {"next", nullptr}});
}

// POST /v1/users {"name","role","password"}: the CLI's `clubos user add`, for admins.
Response PostUser(ApiServer::Impl& api, const Request& r, const Principal& p) {
  RequireAdmin(p);
  const json j = dto::Object(r.body);
  for (const auto& [key, value] : j.items())
    if (key != "name" && key != "role" && key != "password")
      throw BadRequest("unknown field " + key + " (name, role, password)");
  const std::string name = Field(j, "name", 64);
  const Role role = AccountRole(Field(j, "role", 16));
  const std::string password = Field(j, "password", kMaxPasswordBytes);
  auto db = api.Db();
  api.accounts.Add(*db, name, role, password);
  log::Get()->info("user {} ({}) added by {}", name, ToString(role), p.Actor());
  return JsonResponse(201, json{{"name", name}, {"role", ToString(role)}, {"disabled", false}});
}

Response DisableUser(ApiServer::Impl& api, const Request& r, const Principal& p) {
  RequireAdmin(p);
  dto::ParseEmptyOrObject(r.body);
  const std::string name = r.Param("name");
  if (name == p.name) throw ApiError(409, "conflict", "an admin does not disable themselves");
  auto db = api.Db();
  api.accounts.Disable(*db, name);
  log::Get()->info("user {} disabled by {}", name, p.Actor());
  return JsonResponse(200, json{{"name", name}, {"disabled", true}});
}

}  // namespace clubos::api
