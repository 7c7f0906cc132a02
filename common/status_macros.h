// RETURN_IF_ERROR / ASSIGN_OR_RETURN: abseil 20220623 (Debian bookworm) ships neither.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define REMORA_CONCAT_INNER_(a, b) a##b
#define REMORA_CONCAT_(a, b) REMORA_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                                                                \
  do {                                                                                       \
    if (::absl::Status remora_status_ = (expr); !remora_status_.ok()) return remora_status_; \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, MakeX());` binds the value of an OK StatusOr, or returns its status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  REMORA_ASSIGN_OR_RETURN_IMPL_(REMORA_CONCAT_(remora_statusor_, __LINE__), lhs, expr)

#define REMORA_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
