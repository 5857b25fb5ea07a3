#include "weft/context.hpp"

#include "weft/core/submission.hpp"

#include "weft/text.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <optional>
#include <string>
#include <vector>

namespace weft {

namespace {

/// "1 span", "3 spans".
std::string count_of(size_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string{noun} + (n == 1 ? "" : "s");
}

std::string fields_to_json(fields f) {
  boost::json::object obj;
  for (const auto& x : f)
    obj[x.key] = x.value;
  return boost::json::serialize(obj);
}

} // namespace

std::optional<std::vector<progress_indicator>> progress_board::sample(
  uint64_t& seen) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (version_ == seen || taken_)
    return std::nullopt; // unchanged, or the final ones are on their way
  seen = version_;
  return list_;
}

std::vector<progress_indicator> progress_board::take() {
  std::lock_guard<std::mutex> guard{mtx_};
  taken_ = true;
  return std::move(list_);
}

progress_handle& progress_handle::add(uint64_t n) {
  std::lock_guard<std::mutex> guard{board_->mtx_};
  board_->list_[index_].total += n;
  ++board_->version_;
  return *this;
}

progress_handle& progress_handle::done(uint64_t n) {
  std::lock_guard<std::mutex> guard{board_->mtx_};
  board_->list_[index_].done += n;
  ++board_->version_;
  return *this;
}

context::context(current_task_info task, std::shared_ptr<cache_store> cache,
                 context_limits limits, progress_observer* observer)
    : task_(std::move(task)), cache_(std::move(cache)),
      limits_(limits), logs_{"logs",          "log record",
                             "max_logs",      "max_log_bytes",
                             limits.max_logs, limits.max_log_bytes},
      spans_{"spans",          "span",           "max_spans",
             "max_span_bytes", limits.max_spans, limits.max_span_bytes},
      observer_(observer), logger_(this), tracer_(this) {
}

void context::set_display(std::string_view display) {
  display_ = clean_display_name(display, limits_.max_display_chars);
}

subtask_handle context::submit_json(const task_identifier& id,
                                    std::string input,
                                    subtask_options options) {
  core::validate_submission(id, input, limits_.max_input_bytes, "subtask ");
  return add_subtask(id, std::move(input), std::move(options));
}

subtask_handle context::add_subtask(const task_identifier& id,
                                    std::string input,
                                    subtask_options options) {
  core::check_input_size(id, input.size(), limits_.max_input_bytes, "subtask ");
  core::task_submission sub;
  sub.identifier = id;
  sub.input = std::move(input);
  sub.cluster = std::move(options.cluster);
  sub.max_retries = options.max_retries;
  sub.optional = options.optional;
  auto position = static_cast<uint32_t>(outcome_.subtasks.size());
  for (const auto& dep : options.depends_on) {
    if (dep.owner != this || dep.position >= position)
      throw error(errc::invalid_argument,
                  "subtask " + to_string(id)
                    + " depends on a handle that was not returned by an "
                      "earlier submit_subtask of this execution");
    sub.depends_on.push_back(dep.position);
  }
  outcome_.subtasks.push_back(std::move(sub));
  return subtask_handle{position, this};
}

progress_handle context::progress(std::string_view label) {
  if (!board_) {
    board_ = std::make_shared<progress_board>();
    if (observer_ != nullptr)
      observer_->watch(board_);
  }
  std::lock_guard<std::mutex> guard{board_->mtx_};
  auto& list = board_->list_;
  for (size_t i = 0; i < list.size(); ++i)
    if (list[i].label == label)
      return progress_handle{board_.get(), i};
  if (label.size() > limits_.max_label_bytes)
    throw error(errc::invalid_argument,
                "progress label '" + std::string{label.substr(0, 40)}
                  + "...' is " + std::to_string(label.size())
                  + " bytes long; labels are at most "
                  + std::to_string(limits_.max_label_bytes) + " bytes");
  if (list.size() >= limits_.max_indicators)
    throw error(errc::invalid_argument,
                "a task may report at most "
                  + std::to_string(limits_.max_indicators)
                  + " progress indicators");
  list.push_back(progress_indicator{std::string{label}, 0, 0});
  ++board_->version_;
  return progress_handle{board_.get(), list.size() - 1};
}

cache_group context::job_cache() const {
  if (!cache_)
    throw error(errc::invalid_state, "this runner has no job cache configured");
  return cache_group{cache_, task_.job_id};
}

core::attempt_outcome context::take_outcome() {
  auto out = std::move(outcome_);
  if (board_)
    out.progress = board_->take();
  out.display = std::move(display_);
  display_.clear();
  if (auto note = dropped_records_note())
    out.logs.push_back(std::move(*note)); // beyond the limit, on purpose
  outcome_ = core::attempt_outcome{};
  logs_.reset();
  spans_.reset();
  return out;
}

bool context::record_budget::admit(size_t bytes) {
  // Once a limit is hit everything after is dropped, so what is kept is
  // the attempt's first records, without holes.
  if (hit == limit::none) {
    if (kept >= max_count)
      hit = limit::count;
    else if (bytes > max_bytes - kept_bytes)
      hit = limit::bytes;
  }
  if (hit != limit::none) {
    ++dropped;
    dropped_bytes += bytes;
    return false;
  }
  ++kept;
  kept_bytes += bytes;
  return true;
}

void context::add_log(log_record&& record) {
  if (logs_.admit(record.message.size() + record.fields.size()))
    outcome_.logs.push_back(std::move(record));
}

void context::add_span(span_record&& record) {
  if (spans_.admit(record.name.size() + record.attributes.size()))
    outcome_.spans.push_back(std::move(record));
}

const char* context::record_budget::hit_setting() const noexcept {
  return hit == limit::count ? count_setting : bytes_setting;
}

std::string context::record_budget::dropped_text() const {
  auto limit_text = hit == limit::count
                      ? count_of(max_count, noun)
                      : std::to_string(max_bytes) + " bytes of " + noun + "s";
  return count_of(dropped, noun) + " (" + std::to_string(dropped_bytes)
         + " bytes) past its limit of " + limit_text
         + " (context_limits::" + hit_setting() + ")";
}

void context::record_budget::reset() noexcept {
  kept = kept_bytes = dropped = dropped_bytes = 0;
  hit = limit::none;
}

std::optional<log_record> context::dropped_records_note() const {
  std::vector<std::string> parts;
  boost::json::object fields;
  for (const auto* b : {&logs_, &spans_}) {
    if (b->dropped == 0)
      continue;
    parts.push_back(b->dropped_text());
    fields[b->key] = {{"dropped", b->dropped},
                      {"dropped_bytes", b->dropped_bytes},
                      {"limit", b->hit_setting()}};
  }
  if (parts.empty())
    return std::nullopt;
  auto message = "this attempt dropped " + parts.front();
  if (parts.size() > 1)
    message += " and " + parts.back();
  message += parts.size() > 1 ? ": raise them" : ": raise it";
  message += " in the runner's options (runner_options::limits)";
  return log_record{now(), "warn", std::move(message),
                    boost::json::serialize(fields)};
}

void logger::debug(std::string_view message, fields f) {
  write("debug", message, f);
}
void logger::info(std::string_view message, fields f) {
  write("info", message, f);
}
void logger::warn(std::string_view message, fields f) {
  write("warn", message, f);
}
void logger::error(std::string_view message, fields f) {
  write("error", message, f);
}

void logger::write(const char* level, std::string_view message, fields f) {
  ctx_->add_log(
    log_record{now(), level, std::string{message}, fields_to_json(f)});
}

span::span(class context* ctx, std::string name) : ctx_(ctx) {
  record_.name = std::move(name);
  record_.start = now();
}

span::span(span&& other) noexcept
    : ctx_(other.ctx_), record_(std::move(other.record_)),
      attributes_(std::move(other.attributes_)) {
  other.ctx_ = nullptr;
}

span::~span() {
  end();
}

span& span::set_attribute(std::string_view key, boost::json::value value) {
  attributes_[key] = std::move(value);
  return *this;
}

void span::end() {
  if (ctx_ == nullptr)
    return;
  record_.end = now();
  record_.attributes = boost::json::serialize(attributes_);
  ctx_->add_span(std::move(record_));
  ctx_ = nullptr;
}

weft::span tracer::start_span(std::string name) {
  return weft::span{ctx_, std::move(name)};
}

} // namespace weft
