// The audit log of admin actions: one page at a time, newest first, with filters.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useAuth } from "./auth";
import { api, call } from "./client";
import { keys } from "./keys";
import type { AuditFilter } from "./params";

const ADMIN = "The audit log needs an admin token.";

export function useAudit(filter: AuditFilter) {
  const { withToken } = useAuth();
  return useQuery({
    queryKey: keys.audit(filter),
    queryFn: () => withToken(ADMIN, () => call(api.GET("/api/audit", { params: { query: { ...filter, limit: 25 } } }))),
    placeholderData: keepPreviousData,
    retry: false,
  });
}
