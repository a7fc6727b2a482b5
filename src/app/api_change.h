// How an API change is checked before it is compiled and stored: the loader's checks, scoped
// to what the handler says it changed (api::ChangeScope), and the stored form of the document
// made on a thread of its own meanwhile.
//
// Thread: the control thread (which alone applies changes). No I/O besides the thread.
#pragma once

#include <future>
#include <string>

#include "api/error.h"
#include "api/service.h"
#include "base/result.h"
#include "config/error.h"
#include "config/loader.h"
#include "config/model.h"

namespace sluice::app {

// `model` (the handler's next model, exported as `yaml`) checked as a load of `yaml` would
// check it, or the loader's errors. A scoped change is checked where it can fail (decision
// 0030) unless its document is near the loader's size limits, where the whole document is
// loaded: it must load again at the next start.
config::LoadResult CheckApiChange(config::Config model, const api::ChangeScope& scope,
                                  const std::string& yaml, const std::string& label);

// The loader's errors as the API's answer: AWS's code where the loader names one
// (IncompatibleProtocols, TargetGroupAssociationLimit: the message's first word), else
// ValidationError; the message lists "field: message" pairs.
api::ApiError ApiChangeError(const config::ConfigErrors& errors);

// `yaml` deflated for the state store on a thread of its own while the change is checked and
// compiled, which at 100,000 targets take about as long (decision 0031); here when no thread
// can be started. `yaml` must outlive the future (whose destructor waits for the thread).
std::future<Result<std::string>> DeflateAside(const std::string& yaml);

}  // namespace sluice::app
