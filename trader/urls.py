from __future__ import annotations

from django.urls import path

from trader.views import alerts, exchange, exports, home, paper, routes

urlpatterns = [
    path("", home.home, name="home"),
    path("dashboard/", home.dashboard, name="dashboard"),
    path("account/", home.account_settings, name="account_settings"),
    path("exchange/", exchange.exchange_list, name="exchange_list"),
    path("exchange/connect/", exchange.exchange_connect, name="exchange_connect"),
    path("exchange/<int:pk>/", exchange.exchange_detail, name="exchange_detail"),
    path("exchange/<int:pk>/replace/", exchange.exchange_replace, name="exchange_replace"),
    path("exchange/<int:pk>/ws-key/", exchange.exchange_ws_key, name="exchange_ws_key"),
    path("exchange/<int:pk>/remove/", exchange.exchange_remove, name="exchange_remove"),
    path("exchange/paper/new/", paper.paper_create, name="paper_create"),
    path("exchange/<int:pk>/paper/fund/", paper.paper_fund, name="paper_fund"),
    path("exchange/<int:pk>/paper/reset/", paper.paper_reset, name="paper_reset"),
    path("routes/", routes.route_list, name="route_list"),
    path("routes/new/", routes.route_create, name="route_create"),
    path("routes/<int:pk>/", routes.route_detail, name="route_detail"),
    path("routes/<int:pk>/edit/", routes.route_edit, name="route_edit"),
    path("routes/<int:pk>/rotate/", routes.route_rotate, name="route_rotate"),
    path("routes/<int:pk>/enable/", routes.route_enable, name="route_enable"),
    path("routes/<int:pk>/disable/", routes.route_disable, name="route_disable"),
    path("routes/<int:pk>/test/", routes.route_test, name="route_test"),
    path("routes/<int:pk>/flatten/", routes.route_flatten, name="route_flatten"),
    path("routes/<int:pk>/rebase/", routes.route_rebase, name="route_rebase"),
    path("alerts/", alerts.alert_list, name="alert_list"),
    path("alerts/<int:pk>/", alerts.alert_detail, name="alert_detail"),
    path("performance/", alerts.performance, name="performance"),
    path("export/alerts.csv", exports.export_alerts, name="export_alerts"),
    path("export/orders.csv", exports.export_orders, name="export_orders"),
    path("export/fills.csv", exports.export_fills, name="export_fills"),
]
