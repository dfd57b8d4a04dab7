import "./style.css";
import { tauriApi } from "./api";
import { App } from "./app";

const root = document.getElementById("app") as HTMLElement;
const mobile = /Android|iPhone|iPad/.test(navigator.userAgent);
void new App(root, tauriApi, { mobile }).start();
