#include "api/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/assert.h"

namespace clubos::api::metrics {
namespace {

bool ValidMetricName(const std::string& s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void AtomicAdd(std::atomic<double>& a, double by) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + by, std::memory_order_relaxed)) {
  }
}

}  // namespace

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // The shortest spelling that reads back the same keeps 0.005 from printing as 0.0050000000000001.
  for (int precision = 1; precision <= 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void TextWriter::Family(const std::string& name, const std::string& help, const std::string& type) {
  CLUBOS_ASSERT(ValidMetricName(name), "metric names match [a-zA-Z_:][a-zA-Z0-9_:]*");
  out_ += "# HELP " + name + " " + EscapeHelp(help) + "\n";
  out_ += "# TYPE " + name + " " + type + "\n";
}

void TextWriter::Sample(const std::string& name, const std::vector<std::string>& label_names,
                        const std::vector<std::string>& label_values, double value) {
  CLUBOS_ASSERT(label_names.size() == label_values.size(), "one value per label");
  out_ += name;
  if (!label_names.empty()) {
    out_ += '{';
    for (std::size_t i = 0; i < label_names.size(); ++i) {
      if (i) out_ += ',';
      out_ += label_names[i] + "=\"" + EscapeLabelValue(label_values[i]) + "\"";
    }
    out_ += '}';
  }
  out_ += ' ' + FormatValue(value) + '\n';
}

void Counter::Inc(double by) {
  CLUBOS_ASSERT(by >= 0, "counters only go up");
  AtomicAdd(value_, by);
}

void Gauge::Add(double by) {
  AtomicAdd(value_, by);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
  for (std::size_t i = 1; i < bounds_.size(); ++i)
    CLUBOS_ASSERT(bounds_[i - 1] < bounds_[i], "histogram bounds ascend");
}

void Histogram::Observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;  // le: a value equal to a bound belongs to it
  std::lock_guard lk(mu_);
  ++counts_[i];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::Snap() const {
  std::lock_guard lk(mu_);
  Snapshot s;
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    s.cumulative.push_back(running);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> labels) {
  auto f = std::make_shared<metrics::Family<Counter>>(name, help, std::move(labels),
                                                      [] { return std::make_unique<Counter>(); });
  std::lock_guard lk(mu_);
  owned_.push_back(f);
  parts_.push_back([f = f.get()](TextWriter& w) {
    w.Family(f->name(), f->help(), "counter");
    f->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
      w.Sample(f->name(), f->labels(), values, c.Value());
    });
  });
  return *f;
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help,
                                  std::vector<std::string> labels) {
  auto f = std::make_shared<metrics::Family<Gauge>>(name, help, std::move(labels),
                                                    [] { return std::make_unique<Gauge>(); });
  std::lock_guard lk(mu_);
  owned_.push_back(f);
  parts_.push_back([f = f.get()](TextWriter& w) {
    w.Family(f->name(), f->help(), "gauge");
    f->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
      w.Sample(f->name(), f->labels(), values, g.Value());
    });
  });
  return *f;
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> labels,
                                          std::vector<double> buckets) {
  for (const auto& l : labels) CLUBOS_ASSERT(l != "le", "le is the bucket label");
  auto f = std::make_shared<metrics::Family<Histogram>>(
      name, help, std::move(labels), [buckets] { return std::make_unique<Histogram>(buckets); });
  std::lock_guard lk(mu_);
  owned_.push_back(f);
  parts_.push_back([f = f.get()](TextWriter& w) {
    w.Family(f->name(), f->help(), "histogram");
    f->ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
      const auto snap = h.Snap();
      std::vector<std::string> names = f->labels(), vals = values;
      names.push_back("le");
      vals.push_back("");
      for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
        vals.back() = i < h.bounds().size() ? FormatValue(h.bounds()[i]) : "+Inf";
        w.Sample(f->name() + "_bucket", names, vals, static_cast<double>(snap.cumulative[i]));
      }
      w.Sample(f->name() + "_sum", f->labels(), values, snap.sum);
      w.Sample(f->name() + "_count", f->labels(), values, static_cast<double>(snap.count));
    });
  });
  return *f;
}

void Registry::AddCollector(std::function<void(TextWriter&)> collector) {
  std::lock_guard lk(mu_);
  parts_.push_back(std::move(collector));
}

std::string Registry::Render() const {
  std::vector<std::function<void(TextWriter&)>> parts;
  {
    std::lock_guard lk(mu_);
    parts = parts_;
  }
  TextWriter w;
  for (const auto& part : parts) part(w);
  return w.str();
}

}  // namespace clubos::api::metrics
