// Incidents: the active ones, acknowledge and mute, and test messages through the integrations.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAuth } from "./auth";
import { api, call, type Schemas } from "./client";
import { keys } from "./keys";

export type IncidentAction = { id: number; action: "ack" | "mute"; duration?: string };

export const alertsQuery = {
  queryKey: keys.alerts,
  queryFn: () => call(api.GET("/api/alerts", { params: { query: { state: "active" } } })),
};

export function useAlerts() {
  return useQuery({ ...alertsQuery, refetchInterval: 60_000 });
}

/** Acknowledges an incident, or mutes it for a while (`1h` unless told). */
export function useIncidentAction() {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: ({ id, action, duration }: IncidentAction) =>
      withToken("Acknowledging and muting incidents needs an admin token.", () =>
        action === "ack"
          ? call(api.POST("/api/alerts/{id}/ack", { params: { path: { id } } }))
          : call(api.POST("/api/alerts/{id}/mute", { params: { path: { id } }, body: { for: duration ?? "1h" } })),
      ),
    onSettled: () => void client.invalidateQueries({ queryKey: keys.alerts }),
  });
}

/** Sends a test message through one integration (or all); `reason` explains a token prompt. */
export function useSendTest(reason: string) {
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: (body: Schemas["TestBody"]) => withToken(reason, () => call(api.POST("/api/alerts/test", { body }))),
  });
}
