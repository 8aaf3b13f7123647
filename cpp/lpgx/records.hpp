// Layout of periodic records: taken after s steps when s % every == 0 or s == steps
// (0, every, 2·every, …, steps); row r holds the r-th of them. The Python side allocates
// the same rows (lpgx.training.record_steps).
#pragma once
#include "parallel.hpp"

namespace lpgx {

inline bool record_due(Index s, Index every, Index steps) { return every > 0 && (s % every == 0 || s == steps); }
inline Index record_row(Index s, Index every) { return (s + every - 1) / every; }

}  // namespace lpgx
