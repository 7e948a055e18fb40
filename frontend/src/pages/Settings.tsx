// Settings: integrations, alert rules, API tokens, webhook sources, retention, runner prices, delivery (production environments, failed changes) and the audit log. Changing them needs an admin token.
import { AuditLog } from "./settings/AuditLog";
import { Delivery } from "./settings/Delivery";
import { Integrations } from "./settings/Integrations";
import { Prices } from "./settings/Prices";
import { Retention } from "./settings/Retention";
import { Rules } from "./settings/Rules";
import { Sources } from "./settings/Sources";
import { Tokens } from "./settings/Tokens";

export function Settings() {
  return (
    <div className="settings">
      <Integrations />
      <Rules />
      <Tokens />
      <Sources />
      <Retention />
      <Prices />
      <Delivery />
      <AuditLog />
    </div>
  );
}
