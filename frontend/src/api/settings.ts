// Runtime settings (the retention policy, runner prices and currency): read, and replace as a whole.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAuth } from "./auth";
import { api, call, type Schemas } from "./client";
import { keys } from "./keys";

export function useSettings() {
  return useQuery({ queryKey: keys.settings, queryFn: () => call(api.GET("/api/settings")) });
}

export function useSaveSettings() {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: (body: Schemas["Settings"]) =>
      withToken("Changing the settings needs an admin token.", () => call(api.PUT("/api/settings", { body }))),
    onSuccess: (data) => client.setQueryData(keys.settings, data),
  });
}
