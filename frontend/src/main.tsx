// First: the query cache and the first screen's requests (see boot.ts).
import { client, firstScreen } from "./boot";
import { QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import "./styles.css";

/**
 * How long the first render waits for the first screen's data. Rendering placeholders that the
 * data replaces a moment later costs a render, a layout and a paint that the data then redoes; on
 * a slow answer the placeholders show after this long.
 */
const FIRST_DATA_WAIT_MS = 300;

const root = createRoot(document.getElementById("root")!);
void Promise.race([firstScreen, new Promise((done) => setTimeout(done, FIRST_DATA_WAIT_MS))]).then(() =>
  root.render(
    <StrictMode>
      <QueryClientProvider client={client}>
        <App />
      </QueryClientProvider>
    </StrictMode>,
  ),
);
