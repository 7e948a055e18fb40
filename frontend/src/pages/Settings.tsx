// Settings: integrations, alert rules, API tokens and retention. Changing them needs an admin token.
import { Integrations } from "./settings/Integrations";
import { Retention } from "./settings/Retention";
import { Rules } from "./settings/Rules";
import { Tokens } from "./settings/Tokens";

export function Settings() {
  return (
    <div className="settings">
      <Integrations />
      <Rules />
      <Tokens />
      <Retention />
    </div>
  );
}
