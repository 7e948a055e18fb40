// Webhook sources: each provider's URL to paste into the CI system and how its deliveries are
// authenticated; the stored GitHub and GitLab secrets (never shown), added, rotated and deleted
// without a restart.
import { useState } from "react";
import type { Schemas } from "../../api/client";
import { useAddSource, useDeleteSource, useReceivers, useSources } from "../../api/sources";
import { CopyButton, ErrorBox, Skeleton } from "../../components/common";
import { formatTime } from "../../lib/format";
import { useZone } from "../../lib/prefs";

type Receiver = Schemas["Receiver"];
type SecretProvider = Schemas["CreateSource"]["provider"];

const NAMES: Record<Receiver["provider"], string> = {
  generic: "Generic API",
  github: "GitHub Actions",
  gitlab: "GitLab",
  jenkins: "Jenkins",
  cdevents: "CDEvents",
};

/** How a receiver's deliveries are authenticated, in words. */
function credential(r: Receiver, stored: number): string {
  if (r.credential === "ingest_token") return "an ingest token (Authorization: Bearer, or ?token=)";
  const secret = r.provider === "github" ? "webhook secret" : "secret token";
  const where = [r.environment_secret ? "set in the environment" : null, stored > 0 ? `${stored} stored` : null].filter(
    Boolean,
  );
  return where.length ? `${secret}: ${where.join(", ")}` : `${secret}: none yet — deliveries are refused`;
}

export function Sources() {
  const zone = useZone();
  const receivers = useReceivers();
  const sources = useSources();
  const [provider, setProvider] = useState<SecretProvider>("github");
  const [name, setName] = useState("");
  const [secret, setSecret] = useState("");
  const add = useAddSource({
    onSuccess: () => {
      setName("");
      setSecret("");
    },
  });
  const remove = useDeleteSource();
  const stored = (p: string) => sources.data?.filter((s) => s.provider === p).length ?? 0;

  return (
    <section className="card" aria-labelledby="sources-title">
      <h2 id="sources-title">Webhook sources</h2>
      <p className="muted">
        Paste a URL into the CI system. GitHub and GitLab sign their deliveries with a secret: set it here (or with{" "}
        <code>GITHUB_WEBHOOK_SECRET</code> / <code>GITLAB_WEBHOOK_TOKEN</code> in the environment). To rotate one, add
        the new secret, change it in the CI system, then delete the old: both are accepted meanwhile.
      </p>
      {receivers.isPending ? (
        <Skeleton />
      ) : receivers.isError ? (
        <ErrorBox error={receivers.error} retry={() => void receivers.refetch()} />
      ) : (
        <div className="table-wrap">
          <table className="grid" aria-label="Receivers">
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">URL</th>
                <th scope="col">Authenticated by</th>
              </tr>
            </thead>
            <tbody>
              {receivers.data.map((r) => {
                const url = new URL(r.path, window.location.origin).href;
                return (
                  <tr key={r.provider} data-provider={r.provider}>
                    <td>{NAMES[r.provider]}</td>
                    <td>
                      <span className="mono">{url}</span> <CopyButton text={url} />
                    </td>
                    <td>{credential(r, stored(r.provider))}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}

      <h3>Stored secrets</h3>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          add.mutate({ provider, name, secret });
        }}
      >
        <label className="field">
          Provider
          <select value={provider} onChange={(e) => setProvider(e.target.value as SecretProvider)}>
            <option value="github">GitHub</option>
            <option value="gitlab">GitLab</option>
          </select>
        </label>
        <label className="field">
          Name
          <input
            type="text"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="acme-org"
            maxLength={100}
            required
          />
        </label>
        <label className="field">
          Secret
          <input
            type="password"
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
            autoComplete="new-password"
            minLength={16}
            required
          />
        </label>
        <button type="submit" className="btn primary" disabled={!name.trim() || secret.length < 16 || add.isPending}>
          Add secret
        </button>
      </form>
      {add.isError && <ErrorBox error={add.error} />}
      {sources.isPending ? (
        <Skeleton lines={1} />
      ) : sources.isError ? (
        <ErrorBox error={sources.error} retry={() => void sources.refetch()} />
      ) : sources.data.length === 0 ? (
        <p className="muted">No stored secrets.</p>
      ) : (
        <div className="table-wrap">
          <table className="grid" aria-label="Stored secrets">
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">Name</th>
                <th scope="col">Added</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sources.data.map((s) => (
                <tr key={s.id}>
                  <td>{s.provider}</td>
                  <td>{s.name}</td>
                  <td>{formatTime(s.created_at, zone)}</td>
                  <td>{s.last_used_at ? formatTime(s.last_used_at, zone) : "never"}</td>
                  <td>
                    <button
                      type="button"
                      className="btn small danger"
                      disabled={remove.isPending}
                      onClick={() =>
                        window.confirm(`Delete the secret "${s.name}"? Deliveries signed with it are refused.`) &&
                        remove.mutate(s.id)
                      }
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
