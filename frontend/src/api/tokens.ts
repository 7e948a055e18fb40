// API tokens: the list, create (the secret is in the answer, once), revoke.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAuth } from "./auth";
import { api, call, type CreatedToken, type Schemas } from "./client";
import { keys } from "./keys";

const ADMIN = "Managing API tokens needs an admin token.";

export function useTokens() {
  const { withToken } = useAuth();
  return useQuery({
    queryKey: keys.tokens,
    queryFn: () => withToken(ADMIN, () => call(api.GET("/api/tokens"))),
    retry: false,
  });
}

export function useCreateToken({ onSuccess }: { onSuccess?: (token: CreatedToken) => void } = {}) {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: ({ name, scope }: Schemas["CreateToken"]) =>
      withToken(ADMIN, () => call(api.POST("/api/tokens", { body: { name: name.trim(), scope } }))),
    onSuccess: (token) => {
      onSuccess?.(token);
      void client.invalidateQueries({ queryKey: keys.tokens });
    },
  });
}

export function useRevokeToken() {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: (id: number) =>
      withToken(ADMIN, () => call(api.DELETE("/api/tokens/{id}", { params: { path: { id } } }))),
    onSettled: () => void client.invalidateQueries({ queryKey: keys.tokens }),
  });
}
