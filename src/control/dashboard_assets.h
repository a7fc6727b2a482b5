// The admin dashboard's files (src/control/dashboard/ and the vendored chart library in
// third_party/uplot/), compiled into the binary by cmake/embed_files.cmake so the dashboard
// needs nothing installed beside Sluice. Static and immutable: any thread.
#pragma once

#include <string_view>

namespace sluice::control {

// The file called `name` ("index.html", "app.js", "uPlot.iife.min.js", ...); empty when
// there is none.
std::string_view DashboardFile(std::string_view name);

}  // namespace sluice::control
