// Integrations (Slack and webhook targets): the list, create or replace, delete.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAuth } from "./auth";
import { api, call, type Schemas } from "./client";
import { keys } from "./keys";

/** Why the settings page asks for a token. */
export const MANAGE_INTEGRATIONS = "Managing integrations needs an admin token.";

/** An integration to create (`id` null) or to replace. */
export type IntegrationSave = Schemas["IntegrationBody"] & { id: number | null };

/**
 * The integrations. With `askReason`, a missing token opens the token dialog with that reason;
 * without, the list is simply an error then (where it only offers suggestions).
 */
export function useIntegrations(askReason?: string) {
  const { withToken } = useAuth();
  return useQuery({
    queryKey: keys.integrations,
    queryFn: () => {
      const list = () => call(api.GET("/api/integrations"));
      return askReason ? withToken(askReason, list) : list();
    },
    retry: false,
  });
}

export function useSaveIntegration({ onSuccess }: { onSuccess?: () => void } = {}) {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: ({ id, name, spec }: IntegrationSave) => {
      const body = { name: name.trim(), spec };
      return withToken(MANAGE_INTEGRATIONS, () =>
        id == null
          ? call(api.POST("/api/integrations", { body }))
          : call(api.PUT("/api/integrations/{id}", { params: { path: { id } }, body })),
      );
    },
    onSuccess: () => {
      onSuccess?.();
      void client.invalidateQueries({ queryKey: keys.integrations });
    },
  });
}

export function useDeleteIntegration() {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: (id: number) =>
      withToken(MANAGE_INTEGRATIONS, () => call(api.DELETE("/api/integrations/{id}", { params: { path: { id } } }))),
    onSettled: () => void client.invalidateQueries({ queryKey: keys.integrations }),
  });
}
