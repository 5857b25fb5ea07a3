#pragma once

// A parser of Prometheus' text exposition format (0.0.4), as strict as a
// Prometheus server, for the tests of /metrics.

#include <catch2/catch.hpp>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace weft::test::exposition {

using labels = std::map<std::string, std::string>;

struct series {
  std::string name;
  labels by;
  double value = 0;
};

struct family {
  std::string type;
  std::string help;
  std::vector<series> samples;
};

/// A scrape, parsed and checked as Prometheus reads text format 0.0.4:
/// every line is `# HELP name text`, `# TYPE name type` or a sample
/// `name{label="value",...} value`; a family's TYPE comes before its
/// samples, its lines are not interleaved with another family's, no series
/// appears twice, and a histogram's buckets are cumulative up to `+Inf`,
/// which equals its `_count`. Throws std::runtime_error saying which line
/// broke which rule.
class scrape {
public:
  explicit scrape(const std::string& text) {
    if (!text.empty() && text.back() != '\n')
      fail(0, "the text does not end with a newline");
    size_t pos = 0;
    size_t line_no = 0;
    while (pos < text.size()) {
      auto end = text.find('\n', pos);
      auto line = text.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (line.empty())
        fail(line_no, "empty line");
      if (line[0] == '#')
        comment(line_no, line);
      else
        sample(line_no, line);
    }
    for (const auto& [name, fam] : families_)
      if (fam.type == "histogram")
        check_histogram(name, fam);
  }

  bool has(const std::string& name) const {
    return families_.count(name) > 0;
  }

  const family& get(const std::string& name) const {
    auto i = families_.find(name);
    if (i == families_.end())
      throw std::runtime_error("no family " + name);
    return i->second;
  }

  /// The value of the sample `name` with exactly these labels.
  std::optional<double> value(const std::string& name,
                              const labels& by = {}) const {
    const auto& fam = get(family_of(name));
    for (const auto& s : fam.samples)
      if (s.name == name && s.by == by)
        return s.value;
    return std::nullopt;
  }

  /// Like value(), failing when there is no such sample.
  double at(const std::string& name, const labels& by = {}) const {
    auto v = value(name, by);
    if (!v) {
      std::string text = name + "{";
      for (const auto& [k, x] : by)
        text += k + "=" + x + ",";
      throw std::runtime_error("no sample " + text + "}");
    }
    return *v;
  }

private:
  [[noreturn]] static void fail(size_t line, const std::string& why) {
    throw std::runtime_error("line " + std::to_string(line) + ": " + why);
  }

  static bool valid_name(const std::string& s, bool colon) {
    if (s.empty())
      return false;
    for (size_t i = 0; i < s.size(); ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      bool ok = std::isalpha(c) || c == '_' || (colon && c == ':')
                || (i > 0 && std::isdigit(c));
      if (!ok)
        return false;
    }
    return true;
  }

  /// The family a sample name belongs to: itself, or a histogram's name
  /// before `_bucket`, `_sum` or `_count`.
  std::string family_of(const std::string& name) const {
    if (families_.count(name))
      return name;
    for (std::string suffix : {"_bucket", "_sum", "_count"})
      if (name.size() > suffix.size()
          && name.compare(name.size() - suffix.size(), suffix.size(), suffix)
               == 0) {
        auto base = name.substr(0, name.size() - suffix.size());
        auto i = families_.find(base);
        if (i != families_.end() && i->second.type == "histogram")
          return base;
      }
    return name;
  }

  /// Lines of one family come together: a family seen before the current
  /// one is closed.
  void enter(size_t line, const std::string& fam) {
    if (fam == current_)
      return;
    if (closed_.count(fam))
      fail(line, "family " + fam + " continues after another one began");
    if (!current_.empty())
      closed_.insert(current_);
    current_ = fam;
  }

  void comment(size_t line, const std::string& text) {
    auto word_end = text.find(' ', 2);
    if (text.size() < 2 || text[1] != ' ' || word_end == std::string::npos)
      fail(line, "a comment that is neither HELP nor TYPE: " + text);
    auto word = text.substr(2, word_end - 2);
    auto rest = text.substr(word_end + 1);
    auto name_end = rest.find(' ');
    if (name_end == std::string::npos)
      fail(line, word + " without text: " + text);
    auto name = rest.substr(0, name_end);
    auto arg = rest.substr(name_end + 1);
    if (!valid_name(name, true))
      fail(line, "bad metric name " + name);
    enter(line, name);
    auto& fam = families_[name];
    if (word == "HELP") {
      if (!fam.help.empty())
        fail(line, "second HELP for " + name);
      for (size_t i = 0; i < arg.size(); ++i)
        if (arg[i] == '\\'
            && (i + 1 == arg.size()
                || (arg[i + 1] != '\\' && arg[i + 1] != 'n')))
          fail(line, "bad escape in HELP of " + name);
        else if (arg[i] == '\\')
          ++i;
      fam.help = arg.empty() ? " " : arg;
    } else if (word == "TYPE") {
      if (!fam.type.empty())
        fail(line, "second TYPE for " + name);
      if (!fam.samples.empty())
        fail(line, "TYPE of " + name + " after its samples");
      static const std::set<std::string> types{"counter", "gauge", "histogram",
                                               "summary", "untyped"};
      if (!types.count(arg))
        fail(line, "unknown type " + arg);
      fam.type = arg;
    } else {
      fail(line, "a comment that is neither HELP nor TYPE: " + text);
    }
  }

  void sample(size_t line, const std::string& text) {
    size_t i = 0;
    while (i < text.size() && text[i] != '{' && text[i] != ' ')
      ++i;
    series s;
    s.name = text.substr(0, i);
    if (!valid_name(s.name, true))
      fail(line, "bad metric name " + s.name);
    if (i < text.size() && text[i] == '{') {
      ++i;
      while (i < text.size() && text[i] != '}') {
        auto eq = text.find('=', i);
        if (eq == std::string::npos)
          fail(line, "label without value");
        auto key = text.substr(i, eq - i);
        if (!valid_name(key, false))
          fail(line, "bad label name " + key);
        i = eq + 1;
        if (i >= text.size() || text[i] != '"')
          fail(line, "label value not quoted");
        ++i;
        std::string val;
        for (;; ++i) {
          if (i >= text.size())
            fail(line, "unterminated label value");
          char c = text[i];
          if (c == '"')
            break;
          if (c == '\n')
            fail(line, "raw newline in a label value");
          if (c == '\\') {
            if (++i >= text.size())
              fail(line, "unterminated escape");
            if (text[i] == 'n')
              val += '\n';
            else if (text[i] == '\\' || text[i] == '"')
              val += text[i];
            else
              fail(line, "bad escape in a label value");
            continue;
          }
          val += c;
        }
        ++i; // the closing quote
        if (!s.by.emplace(key, val).second)
          fail(line, "label " + key + " twice");
        if (i < text.size() && text[i] == ',')
          ++i;
        else if (i >= text.size() || text[i] != '}')
          fail(line, "labels not separated by commas");
      }
      if (i >= text.size())
        fail(line, "unterminated labels");
      ++i; // '}'
    }
    if (i >= text.size() || text[i] != ' ')
      fail(line, "no space before the value");
    auto value = text.substr(i + 1);
    if (value == "+Inf")
      s.value = INFINITY;
    else if (value == "-Inf")
      s.value = -INFINITY;
    else if (value == "NaN")
      s.value = NAN;
    else {
      char* end = nullptr;
      s.value = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0')
        fail(line, "bad value (or a timestamp) " + value);
    }
    auto fam_name = family_of(s.name);
    auto f = families_.find(fam_name);
    if (f == families_.end() || f->second.type.empty())
      fail(line, "sample " + s.name + " before its TYPE");
    enter(line, fam_name);
    auto& fam = f->second;
    if (fam.type != "histogram" && s.name != fam_name)
      fail(line, "sample " + s.name + " in family " + fam_name);
    if (fam.type == "histogram" && s.name == fam_name)
      fail(line, "histogram sample without suffix: " + s.name);
    if (fam.type == "counter" && !(s.value >= 0))
      fail(line, "counter below zero: " + s.name);
    for (const auto& other : fam.samples)
      if (other.name == s.name && other.by == s.by)
        fail(line, "series " + s.name + " twice");
    fam.samples.push_back(std::move(s));
  }

  static double parse_le(const std::string& le) {
    if (le == "+Inf")
      return INFINITY;
    char* end = nullptr;
    auto v = std::strtod(le.c_str(), &end);
    if (le.empty() || *end != '\0')
      throw std::runtime_error("bad le " + le);
    return v;
  }

  static void check_histogram(const std::string& name, const family& fam) {
    // By the labels other than `le`: buckets in order, then sum and count.
    std::map<labels, std::vector<std::pair<double, double>>> buckets;
    std::map<labels, double> sums;
    std::map<labels, double> counts;
    for (const auto& s : fam.samples) {
      auto by = s.by;
      if (s.name == name + "_bucket") {
        auto le = by.find("le");
        if (le == by.end())
          throw std::runtime_error(name + ": a bucket without le");
        auto bound = parse_le(le->second);
        by.erase(le);
        buckets[by].emplace_back(bound, s.value);
      } else if (s.name == name + "_sum") {
        sums[by] = s.value;
      } else if (s.name == name + "_count") {
        counts[by] = s.value;
      }
    }
    for (const auto& [by, bs] : buckets) {
      for (size_t i = 1; i < bs.size(); ++i) {
        if (!(bs[i].first > bs[i - 1].first))
          throw std::runtime_error(name + ": buckets not in increasing le");
        if (bs[i].second < bs[i - 1].second)
          throw std::runtime_error(name + ": buckets not cumulative");
      }
      if (bs.empty() || !std::isinf(bs.back().first))
        throw std::runtime_error(name + ": no +Inf bucket");
      if (!sums.count(by) || !counts.count(by))
        throw std::runtime_error(name + ": no _sum or _count");
      if (counts.at(by) != bs.back().second)
        throw std::runtime_error(name + ": +Inf bucket differs from _count");
    }
    if (sums.size() != buckets.size() || counts.size() != buckets.size())
      throw std::runtime_error(name + ": _sum or _count without buckets");
  }

  std::map<std::string, family> families_;
  std::string current_;
  std::set<std::string> closed_;
};

/// Parses, failing the test with the parser's reason.
inline scrape parsed(const std::string& text) {
  try {
    return scrape{text};
  } catch (const std::runtime_error& e) {
    INFO(text);
    FAIL("not exposition format: " << e.what());
    throw;
  }
}

} // namespace weft::test::exposition
