#pragma once
// Prometheus metrics in the text exposition format (version 0.0.4), written once here: there is no
// Prometheus client library in Debian. Counters, gauges and histograms in labelled families,
// rendered in registration order; collectors add families computed at scrape time (queue depth
// from the jobs table, and so on).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace clubos::api::metrics {

// Writes families and samples, escaping names and values as the format requires.
class TextWriter {
 public:
  // `type`: counter | gauge | histogram | untyped. Starts a family: its HELP and TYPE lines.
  void Family(const std::string& name, const std::string& help, const std::string& type);
  void Sample(const std::string& name, const std::vector<std::string>& label_names,
              const std::vector<std::string>& label_values, double value);
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// "1", "0.25", "+Inf", "NaN": the format's number spelling.
std::string FormatValue(double v);
std::string EscapeLabelValue(const std::string& v);

class Counter {
 public:
  void Inc(double by = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double by);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // ascending, without +Inf
  void Observe(double v);
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Snap() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative), +Inf last
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Seconds: 1 ms .. 10 s, for request and job latencies.
std::vector<double> LatencyBuckets();

template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::function<std::unique_ptr<T>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        labels_(std::move(labels)),
        make_(std::move(make)) {}
  // The child for these label values (created on first use; lives as long as the family).
  T& With(const std::vector<std::string>& values) {
    std::lock_guard lk(mu_);
    auto& slot = children_[values];
    if (!slot) slot = make_();
    return *slot;
  }
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labels() const { return labels_; }
  template <typename F>
  void ForEach(F&& f) const {
    std::lock_guard lk(mu_);
    for (const auto& [values, child] : children_) f(values, *child);
  }

 private:
  std::string name_, help_;
  std::vector<std::string> labels_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

class Registry {
 public:
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> labels,
                                  std::vector<double> buckets = LatencyBuckets());
  // Runs at every scrape after the registered families; writes families of its own. Must not
  // throw (a collector that cannot read its source writes nothing, and says so in a gauge).
  void AddCollector(std::function<void(TextWriter&)> collector);

  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::function<void(TextWriter&)>> parts_;  // families and collectors, in order
  std::vector<std::shared_ptr<void>> owned_;
};

}  // namespace clubos::api::metrics
