// Alert rules: the list, create or replace (also to enable or disable one), delete.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAuth, type AuthApi } from "./auth";
import { api, call, type RuleInfo, type Schemas } from "./client";
import { keys } from "./keys";

const ADMIN = "Changing alert rules needs an admin token.";

/** A rule to create (`id` null) or to replace. */
export type RuleSave = Schemas["RuleBody"] & { id: number | null };

export function useRules() {
  return useQuery({ queryKey: keys.rules, queryFn: () => call(api.GET("/api/alert-rules")) });
}

function saveRule(withToken: AuthApi["withToken"], d: RuleSave) {
  const body = { name: d.name.trim(), spec: d.spec };
  return withToken(ADMIN, () =>
    d.id == null
      ? call(api.POST("/api/alert-rules", { body }))
      : call(api.PUT("/api/alert-rules/{id}", { params: { path: { id: d.id } }, body })),
  );
}

export function useSaveRule({ onSuccess }: { onSuccess?: () => void } = {}) {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: (d: RuleSave) => saveRule(withToken, d),
    onSuccess: () => {
      onSuccess?.();
      void client.invalidateQueries({ queryKey: keys.rules });
    },
  });
}

/** Enables a disabled rule, or disables an enabled one. */
export function useToggleRule() {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: (r: RuleInfo) =>
      saveRule(withToken, { id: r.id, name: r.name, spec: { ...r.spec, suspend: r.enabled } }),
    onSettled: () => void client.invalidateQueries({ queryKey: keys.rules }),
  });
}

export function useDeleteRule() {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: (id: number) =>
      withToken(ADMIN, () => call(api.DELETE("/api/alert-rules/{id}", { params: { path: { id } } }))),
    onSettled: () => void client.invalidateQueries({ queryKey: keys.rules }),
  });
}
