#pragma once

// Everything a program that writes tasks, runs runners or submits jobs
// needs. No CAF header is pulled in.

#include "weft/cache.hpp"
#include "weft/certs.hpp"
#include "weft/client.hpp"
#include "weft/context.hpp"
#include "weft/error.hpp"
#include "weft/identifier.hpp"
#include "weft/job.hpp"
#include "weft/json.hpp"
#include "weft/local_cluster.hpp"
#include "weft/network.hpp"
#include "weft/orchestrator_options.hpp"
#include "weft/registry.hpp"
#include "weft/remote.hpp"
#include "weft/runner.hpp"
#include "weft/server.hpp"
#include "weft/task.hpp"
#include "weft/time.hpp"
