#include "weft/actors/fwd.hpp"
#include "weft/actors/messages.hpp"

#include <caf/all.hpp>

namespace weft {

void add_weft_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::weft>();
  cfg.add_message_types<caf::id_block::weft_actors>();
  cfg.add_error_category(caf::atom("weft"), [](uint8_t code, caf::atom_value,
                                               const caf::message& context) {
    auto text = std::string{"weft: "} + to_string(static_cast<errc>(code));
    if (context.size() == 1 && context.match_element<std::string>(0))
      text += ": " + context.get_as<std::string>(0);
    return text;
  });
}

caf::error make_weft_error(errc code, std::string message) {
  return caf::make_error(code, std::move(message));
}

weft::error to_weft_error(const caf::error& err) {
  if (err.category() == caf::atom("weft")) {
    std::string text;
    const auto& ctx = err.context();
    if (ctx.size() == 1 && ctx.match_element<std::string>(0))
      text = ctx.get_as<std::string>(0);
    else
      text = to_string(static_cast<errc>(err.code()));
    return weft::error{static_cast<errc>(err.code()), text};
  }
  if (err == caf::sec::request_timeout)
    return weft::error{errc::timeout,
                       "the orchestrator did not answer in time"};
  return weft::error{errc::not_running,
                     "orchestrator unavailable: " + caf::to_string(err)};
}

} // namespace weft
