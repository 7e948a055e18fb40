// Calls that need a token: when one fails for want of it (401, or 403 for a token of too small a
// scope), the user is asked for a token and the call runs once more. The asking is the UI's
// (components/Auth.tsx provides it); the data hooks reach it through this context.
import { createContext, useContext } from "react";
import { ApiError } from "./client";

export interface AuthApi {
  token: string | null;
  /** Opens the token dialog; resolves true when a token was entered. */
  ask: (reason: string) => Promise<boolean>;
  /** Runs an action; when it fails for want of a token, asks for one and runs it once more. */
  withToken: <T>(reason: string, action: () => Promise<T>) => Promise<T>;
  signOut: () => void;
}

export const AuthContext = createContext<AuthApi | null>(null);

export function useAuth(): AuthApi {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}

/** `withToken` given the function that asks: the action, and once more after a token was entered. */
export async function retryWithToken<T>(
  ask: (reason: string) => Promise<boolean>,
  reason: string,
  action: () => Promise<T>,
): Promise<T> {
  try {
    return await action();
  } catch (e) {
    if (!(e instanceof ApiError) || !e.needsToken) throw e;
    if (!(await ask(e.status === 403 ? `${reason} Your token's scope does not allow it.` : reason))) throw e;
    return action();
  }
}
