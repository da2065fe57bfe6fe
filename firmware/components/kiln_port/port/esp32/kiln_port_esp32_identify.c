/*
 * ESP32 port, identify (kiln_port_sys.h kiln_port_identify()): blinks the board's LED at 2 Hz
 * for the time the core asks for. The LED is CONFIG_KILN_IDENTIFY_LED_GPIO (Kconfig "Kiln
 * board"); -1, the default, is a board without one, and identify only logs. The blinking runs
 * from a periodic esp_timer that stops itself; one mutex orders the core's task and the
 * esp_timer task, so the timer is only ever started or stopped under it.
 *
 * APIs (ESP-IDF v5.x): esp_err.h esp_err_to_name(); driver/gpio.h (esp_driver_gpio from v5.3, which `driver` pulls in)
 * gpio_reset_pin(gpio_num_t), gpio_set_direction(gpio_num_t, gpio_mode_t) with GPIO_MODE_OUTPUT,
 * gpio_set_level(gpio_num_t, uint32_t level), GPIO_IS_VALID_OUTPUT_GPIO(n); esp_timer.h
 * esp_timer_create(const esp_timer_create_args_t *, esp_timer_handle_t *) with .callback
 * (void (*)(void *)), .arg, .dispatch_method ESP_TIMER_TASK, .name, .skip_unhandled_events;
 * esp_timer_start_periodic(esp_timer_handle_t, uint64_t period_us), esp_timer_stop(esp_timer_handle_t)
 * (a periodic timer is re-armed before its callback runs, so the callback may stop it);
 * freertos/semphr.h xSemaphoreCreateMutex, xSemaphoreTake, xSemaphoreGive.
 */
#include <inttypes.h>
#include <stdbool.h>

#include "esp_err.h"
#include "esp_log.h"
#include "kiln_port_sys.h"
#include "sdkconfig.h"

static const char *TAG = "kiln"; /* the core's tag: the same line as the host port's */

#if CONFIG_KILN_IDENTIFY_LED_GPIO >= 0
#include "driver/gpio.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"

#define LED_GPIO ((gpio_num_t)CONFIG_KILN_IDENTIFY_LED_GPIO)
#define HALF_PERIOD_US 250000u /* on 250 ms, off 250 ms */
#define TICKS_PER_SEC 4u
#ifdef CONFIG_KILN_IDENTIFY_LED_ACTIVE_LOW
#define LED_ON_LEVEL 0u
#else
#define LED_ON_LEVEL 1u
#endif

static SemaphoreHandle_t s_lock;
static esp_timer_handle_t s_timer;
static bool s_setup_failed;
/* Under s_lock: */
static uint32_t s_ticks_left;
static bool s_running;

static void led(bool on) { (void)gpio_set_level(LED_GPIO, on ? LED_ON_LEVEL : 1u - LED_ON_LEVEL); }

/* esp_timer task, every 250 ms: on while an even number of ticks is left, off and stopped at 0. */
static void on_tick(void *arg)
{
    (void)arg;
    xSemaphoreTake(s_lock, portMAX_DELAY);
    if (s_ticks_left > 0) {
        s_ticks_left--;
    }
    if (s_ticks_left == 0) {
        led(false);
        if (s_running) {
            (void)esp_timer_stop(s_timer);
            s_running = false;
        }
    } else {
        led(s_ticks_left % 2u == 0);
    }
    xSemaphoreGive(s_lock);
}

/* The GPIO and the timer, at the first identify (a board that never identifies pays nothing). */
static bool setup(void)
{
    if (s_timer != NULL || s_setup_failed) {
        return s_timer != NULL;
    }
    const esp_timer_create_args_t args = {
        .callback = on_tick,
        .arg = NULL,
        .dispatch_method = ESP_TIMER_TASK,
        .name = "kiln_identify",
        .skip_unhandled_events = true,
    };
    esp_err_t err = ESP_ERR_INVALID_ARG;
    if (GPIO_IS_VALID_OUTPUT_GPIO(CONFIG_KILN_IDENTIFY_LED_GPIO)) {
        s_lock = xSemaphoreCreateMutex();
        err = s_lock == NULL ? ESP_ERR_NO_MEM : gpio_reset_pin(LED_GPIO);
        if (err == ESP_OK) {
            err = gpio_set_direction(LED_GPIO, GPIO_MODE_OUTPUT);
        }
        if (err == ESP_OK) {
            err = esp_timer_create(&args, &s_timer);
        }
    }
    if (err != ESP_OK) {
        s_setup_failed = true;
        s_timer = NULL;
        ESP_LOGE(TAG, "identify: GPIO %d cannot drive the LED (%s): identify only logs",
                 CONFIG_KILN_IDENTIFY_LED_GPIO, esp_err_to_name(err));
        return false;
    }
    led(false);
    return true;
}
#endif

void kiln_port_identify(uint32_t seconds)
{
#if CONFIG_KILN_IDENTIFY_LED_GPIO >= 0
    if (setup()) {
        xSemaphoreTake(s_lock, portMAX_DELAY);
        s_ticks_left = seconds * TICKS_PER_SEC; /* a call while blinking starts the period over */
        led(true);
        esp_err_t err = ESP_OK;
        if (!s_running) {
            err = esp_timer_start_periodic(s_timer, HALF_PERIOD_US);
            s_running = err == ESP_OK;
        }
        if (err != ESP_OK) {
            led(false);
        }
        xSemaphoreGive(s_lock);
        if (err == ESP_OK) {
            ESP_LOGI(TAG, "identify: blinking for %" PRIu32 " s", seconds);
            return;
        }
        ESP_LOGE(TAG, "identify: esp_timer_start_periodic: %s", esp_err_to_name(err));
    }
#endif
    /* No LED (CONFIG_KILN_IDENTIFY_LED_GPIO -1, or one that failed above): the log line is all there is. */
    ESP_LOGI(TAG, "identify: no LED to blink, %" PRIu32 " s", seconds);
}
