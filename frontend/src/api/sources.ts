// Webhook receivers (where each provider delivers, and how it proves who sent it) and the stored
// webhook secrets ("sources"): the list, add, delete. Rotating a secret is adding the new one and
// deleting the old once the provider uses the new: both are accepted meanwhile.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAuth } from "./auth";
import { api, call, type Schemas } from "./client";
import { keys } from "./keys";

const ADMIN = "Webhook sources need an admin token.";

export function useReceivers() {
  const { withToken } = useAuth();
  return useQuery({
    queryKey: keys.receivers,
    queryFn: () => withToken(ADMIN, () => call(api.GET("/api/webhook-receivers"))),
    retry: false,
  });
}

export function useSources() {
  const { withToken } = useAuth();
  return useQuery({
    queryKey: keys.sources,
    queryFn: () => withToken(ADMIN, () => call(api.GET("/api/webhook-sources"))),
    retry: false,
  });
}

export function useAddSource({ onSuccess }: { onSuccess?: () => void } = {}) {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: (source: Schemas["CreateSource"]) =>
      withToken(ADMIN, () => call(api.POST("/api/webhook-sources", { body: { ...source, name: source.name.trim() } }))),
    onSuccess: () => {
      onSuccess?.();
      void client.invalidateQueries({ queryKey: keys.sources });
    },
  });
}

export function useDeleteSource() {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: (id: number) =>
      withToken(ADMIN, () => call(api.DELETE("/api/webhook-sources/{id}", { params: { path: { id } } }))),
    onSettled: () => void client.invalidateQueries({ queryKey: keys.sources }),
  });
}
